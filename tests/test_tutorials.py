"""Every `tutorials/*.py` runs end to end in smoke mode and writes a plot.

Each tutorial runs as a script in a subprocess, with Keras' debugging caps
`KERAS_MAX_EPOCHS=1` and `KERAS_MAX_STEPS_PER_EPOCH=2` (the tutorials also
switch to small data and fewer configurations when the latter is set). The
subprocess gets the backend of this test session the way a user sets it
once for all scripts: in `keras.json` (in a temporary `KERAS_HOME`), with
`KERAS_BACKEND` removed from its environment, so a tutorial that picked its
own backend would show. Deselect these tests with `-m "not tutorial"`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

TUTORIALS = sorted((Path(__file__).parents[1] / "tutorials").glob("*.py"))
TIMEOUT_S = 120  # a hard stop; a smoke run should take well under 60 s
TAIL_CHARS = 4000


@pytest.fixture(autouse=True)
def fresh_session():
    """Overrides conftest's Keras reset: the tutorials run in subprocesses."""


@pytest.fixture(scope="session")
def tfds_data_dir(request, tmp_path_factory):
    """Where TFDS data sets are prepared: `$TFDS_DATA_DIR` if set, else
    pytest's cache directory (prepared once, reused by later runs), so the
    tests never write into `~/tensorflow_datasets`."""
    if os.environ.get("TFDS_DATA_DIR"):
        return os.environ["TFDS_DATA_DIR"]
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return str(cache.mkdir("tfds_data"))
    return str(tmp_path_factory.mktemp("tfds_data"))


@pytest.fixture
def keras_home(tmp_path):
    """A `KERAS_HOME` whose `keras.json` holds this session's settings."""
    home = tmp_path / "keras_home"
    home.mkdir()
    config = {"backend": keras.config.backend(),
              "floatx": keras.config.floatx(),
              "epsilon": keras.config.epsilon(),
              "image_data_format": keras.config.image_data_format()}
    (home / "keras.json").write_text(json.dumps(config))
    return str(home)


def _tail(text):
    if isinstance(text, bytes):  # TimeoutExpired keeps the raw bytes
        text = text.decode(errors="replace")
    text = text or ""
    return text if len(text) <= TAIL_CHARS else "..." + text[-TAIL_CHARS:]


def _report(path, stdout, stderr):
    return (f"{path.name}\n--- stdout (tail) ---\n{_tail(stdout)}\n"
            f"--- stderr (tail) ---\n{_tail(stderr)}")


@pytest.mark.tutorial
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda path: path.name)
def test_tutorial_runs_in_smoke_mode(path, tmp_path, keras_home,
                                     tfds_data_dir):
    env = dict(os.environ,
               KERAS_HOME=keras_home,
               KERAS_MAX_EPOCHS="1",
               KERAS_MAX_STEPS_PER_EPOCH="2",
               MPLBACKEND="Agg",
               TFDS_DATA_DIR=tfds_data_dir)
    env.pop("KERAS_BACKEND", None)  # XLA_FLAGS: conftest's, for speed
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    try:
        result = subprocess.run([sys.executable, str(path)], cwd=run_dir,
                                env=env, capture_output=True, text=True,
                                timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"timed out after {TIMEOUT_S} s: "
                    + _report(path, err.stdout, err.stderr))
    assert result.returncode == 0, (
        f"exit code {result.returncode}: "
        + _report(path, result.stdout, result.stderr))
    assert f"with the {keras.config.backend()} backend" in result.stdout, (
        "not run on the backend of keras.json: "
        + _report(path, result.stdout, result.stderr))
    assert sorted(run_dir.glob("*.png")), (
        "no PNG written: " + _report(path, result.stdout, result.stderr))
