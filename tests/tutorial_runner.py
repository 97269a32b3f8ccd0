"""Runs tutorial scripts one after another in this process, as `__main__`.

Usage: `python tutorial_runner.py RESULTS_JSON RUN_DIR TUTORIAL...`. Each
tutorial runs in its own working directory `RUN_DIR/<script stem>`, with
its output captured; `RESULTS_JSON` gets, after each one, per script: the
exit code it would have had, its stdout and stderr (with the traceback of a
failure) and its time. The backend and Keras' step caps come from the
environment and `keras.json`, as for a script a user runs. One process runs
several scripts so that they pay the start of Python, Keras and the backend
once (seconds per script, most of a smoke run's time).
"""

import contextlib
import io
import json
import os
import runpy
import sys
import time
import traceback
from pathlib import Path

import keras
import matplotlib.pyplot as plt


def run(path, run_dir):
    stdout, stderr = io.StringIO(), io.StringIO()
    returncode = 0
    begin = time.perf_counter()
    cwd = os.getcwd()
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chdir(run_dir)
    argv, sys.argv = sys.argv, [str(path)]  # as `python path` would
    try:
        with contextlib.redirect_stdout(stdout), \
                contextlib.redirect_stderr(stderr):
            runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exit:
        returncode = exit.code if isinstance(exit.code, int) else 1
    except Exception:  # reported, as a crashing script reports it
        stderr.write(traceback.format_exc())
        returncode = 1
    finally:
        sys.argv = argv
        os.chdir(cwd)
        plt.close("all")
        keras.utils.clear_session()
    return {"returncode": returncode, "stdout": stdout.getvalue(),
            "stderr": stderr.getvalue(),
            "seconds": time.perf_counter() - begin}


def main(results_path, run_dir, *paths):
    results = {}
    for path in map(Path, paths):
        results[path.name] = run(path, Path(run_dir) / path.stem)
        Path(results_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
