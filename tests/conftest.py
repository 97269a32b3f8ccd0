import atexit
import os
import shutil
import tempfile

# The tests' computations are tiny: XLA's (JAX's, and TensorFlow's fused
# updates') optimization passes cost more compile time than they save.
os.environ["XLA_FLAGS"] = " ".join([
    os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0",
    "--xla_llvm_disable_expensive_passes=true"])

# Many tests compile the same small train steps (fresh models and
# optimizers of equal structure): JAX's compilation cache, in a folder of
# this session's own (shared with its subprocesses, removed at exit),
# compiles each once. A subset of the optimizer tests went from 61 s to
# 46 s with it, starting empty as on CI.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="keras_constrained_jax_cache_")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
    os.environ.update({"JAX_COMPILATION_CACHE_DIR": _cache,
                       "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                       "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"})

import keras  # noqa: E402
import pytest  # noqa: E402

if keras.config.backend() == "torch":
    import torch

    # The tests' tensors are tiny: torch's thread pool costs more than it
    # gives on them, and on a busy 2-core machine it slows steps 10-20x.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def fresh_session():
    """Each test starts from a clean Keras session with fixed seeds.

    Without the garbage collection `clear_session` does by default: late in
    a session, with the heap full of traced functions, a full collection
    took about 1.5 s per test (most of the suite's time on JAX); Python's
    own collector still runs as usual.
    """
    keras.utils.clear_session(free_memory=False)
    keras.utils.set_random_seed(1234)
    yield


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "tutorial: runs a tutorials/*.py script end to end in smoke mode "
        "(slow; deselect with -m 'not tutorial')")
    config.addinivalue_line(
        "markers",
        "wheel: builds the wheel and runs the README quickstart from it in a "
        "fresh venv (slow; deselect with -m 'not wheel')")
