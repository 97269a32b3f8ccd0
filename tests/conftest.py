import keras
import pytest

if keras.config.backend() == "torch":
    import torch

    # The tests' tensors are tiny: torch's thread pool costs more than it
    # gives on them, and on a busy 2-core machine it slows steps 10-20x.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def fresh_session():
    """Each test starts from a clean Keras session with fixed seeds."""
    keras.utils.clear_session()
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
