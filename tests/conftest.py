import keras
import pytest


@pytest.fixture(autouse=True)
def fresh_session():
    """Each test starts from a clean Keras session with fixed seeds."""
    keras.utils.clear_session()
    keras.utils.set_random_seed(1234)
    yield
