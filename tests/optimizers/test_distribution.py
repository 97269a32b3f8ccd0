"""The optimizers under Keras' distribution engines: data-parallel training
on two CPU devices takes the steps of single-device training (noise
included: every replica draws the same), and the constraints hold."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

SCRIPT = Path(__file__).with_name("distributed_fit.py")


def distributed_fit(name):
    """The script's result for the optimizer `name`, run in a process of
    its own (one per optimizer keeps each test well under a minute)."""
    if keras.config.backend() not in ("jax", "tensorflow"):
        pytest.skip("Keras has no multi-device strategy for torch.")
    env = dict(os.environ, KERAS_BACKEND=keras.config.backend())
    run = subprocess.run([sys.executable, str(SCRIPT), name], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])[name]


@pytest.mark.parametrize(
    "name", ["UnderdampedLangevin", "OverdampedLangevin", "DSGD",
             "RiemannianAdam"])
def test_two_devices_train_as_one(name):
    result = distributed_fit(name)
    assert result["moved"] > 1e-2  # it trained
    assert result["difference"] < 1e-5
    assert result["replica_spread"] < 1e-6  # every replica's copy agrees
    assert result["violation"] < 1e-5
