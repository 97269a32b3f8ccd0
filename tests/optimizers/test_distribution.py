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


def distributed_fit(names):
    """The script's results for the optimizers `names`, run in a process of
    their own (two per process keeps each test well under a minute; each
    process pays the start of the backend and its devices once)."""
    if keras.config.backend() not in ("jax", "tensorflow"):
        pytest.skip("Keras has no multi-device strategy for torch.")
    env = dict(os.environ, KERAS_BACKEND=keras.config.backend())
    run = subprocess.run([sys.executable, str(SCRIPT), *names], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("names", [
    ("UnderdampedLangevin", "OverdampedLangevin"), ("DSGD", "RiemannianAdam")],
    ids="-".join)
def test_two_devices_train_as_one(names):
    results = distributed_fit(names)
    for name in names:
        result = results[name]
        assert result["moved"] > 1e-2, name  # it trained
        assert result["difference"] < 1e-5, name
        # every replica's copy agrees
        assert result["replica_spread"] < 1e-6, name
        assert result["violation"] < 1e-5, name
