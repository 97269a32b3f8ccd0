"""Every `tutorials/*.py` runs end to end in smoke mode and writes a plot.

The tutorials run as scripts (`__main__`) in subprocesses, a few per
process (`tutorial_runner.py`: importing Keras and a backend takes 3 to 6 s,
most of a smoke run), each in a working directory of its own, with Keras'
debugging caps `KERAS_MAX_EPOCHS=1` and `KERAS_MAX_STEPS_PER_EPOCH=2` (the
tutorials also switch to small data and fewer configurations when the
latter is set). The subprocesses get the backend of this test session the
way a user sets it once for all scripts: in `keras.json` (in a temporary
`KERAS_HOME`), with `KERAS_BACKEND` removed from their environment, so a
tutorial that picked its own backend would show. Deselect these tests with
`-m "not tutorial"`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

TUTORIALS = sorted((Path(__file__).parents[1] / "tutorials").glob("*.py"))
RUNNER = Path(__file__).with_name("tutorial_runner.py")
PER_PROCESS = 4  # a process's scripts take well under a minute together
TIMEOUT_S = 120 * PER_PROCESS  # a hard stop
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


@pytest.fixture(scope="session")
def keras_home(tmp_path_factory):
    """A `KERAS_HOME` whose `keras.json` holds this session's settings."""
    home = tmp_path_factory.mktemp("keras_home")
    config = {"backend": keras.config.backend(),
              "floatx": keras.config.floatx(),
              "epsilon": keras.config.epsilon(),
              "image_data_format": keras.config.image_data_format()}
    (home / "keras.json").write_text(json.dumps(config))
    return str(home)


@pytest.fixture(scope="session")
def tutorial_runs(keras_home, tfds_data_dir, tmp_path_factory):
    """`run(path)`: the result of `path`'s smoke run and its working
    directory; the first call for a group of `PER_PROCESS` tutorials runs
    the group in one subprocess."""
    env = dict(os.environ,
               KERAS_HOME=keras_home,
               KERAS_MAX_EPOCHS="1",
               KERAS_MAX_STEPS_PER_EPOCH="2",
               MPLBACKEND="Agg",
               TFDS_DATA_DIR=tfds_data_dir)
    env.pop("KERAS_BACKEND", None)  # XLA_FLAGS: conftest's, for speed
    runs = tmp_path_factory.mktemp("tutorials")
    results = {}

    def run(path):
        if path.name not in results:
            start = TUTORIALS.index(path) // PER_PROCESS * PER_PROCESS
            group = TUTORIALS[start:start + PER_PROCESS]
            output = runs / f"results_{start}.json"
            try:
                process = subprocess.run(
                    [sys.executable, str(RUNNER), str(output), str(runs),
                     *map(str, group)],
                    cwd=runs, env=env, capture_output=True, text=True,
                    timeout=TIMEOUT_S)
                failure = (f"the runner exited with {process.returncode}"
                           if process.returncode else "")
                stdout, stderr = process.stdout, process.stderr
            except subprocess.TimeoutExpired as err:
                failure = f"the runner timed out after {TIMEOUT_S} s"
                stdout, stderr = err.stdout, err.stderr
            done = json.loads(output.read_text()) if output.exists() else {}
            for tutorial in group:
                results[tutorial.name] = done.get(tutorial.name, {
                    "returncode": None, "stdout": _tail(stdout),
                    "stderr": f"{failure} before it finished "
                              f"{tutorial.name}:\n{_tail(stderr)}"})
        return results[path.name], runs / path.stem

    return run


def _tail(text):
    if isinstance(text, bytes):  # TimeoutExpired keeps the raw bytes
        text = text.decode(errors="replace")
    text = text or ""
    return text if len(text) <= TAIL_CHARS else "..." + text[-TAIL_CHARS:]


def _report(path, result):
    return (f"{path.name}\n--- stdout (tail) ---\n{_tail(result['stdout'])}"
            f"\n--- stderr (tail) ---\n{_tail(result['stderr'])}")


@pytest.mark.tutorial
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda path: path.name)
def test_tutorial_runs_in_smoke_mode(path, tutorial_runs):
    result, run_dir = tutorial_runs(path)
    assert result["returncode"] == 0, (
        f"exit code {result['returncode']}: " + _report(path, result))
    assert f"with the {keras.config.backend()} backend" in result["stdout"], (
        "not run on the backend of keras.json: " + _report(path, result))
    assert sorted(run_dir.glob("*.png")), (
        "no PNG written: " + _report(path, result))
