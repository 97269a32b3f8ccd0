"""Under torch, large variables' steps run compiled (`_backend.fused_update`):
they take the eager steps, up to float32 rounding (the compiled step uses
the polynomial sine and cosine of `_backend.trigonometry`)."""

import warnings

import keras
import numpy as np
import pytest
from helpers import to_numpy

import keras_constrained as kc
from keras_constrained._backend import fused_update

pytestmark = pytest.mark.skipif(
    keras.config.backend() != "torch",
    reason="only torch chooses between eager and compiled steps by size")


def train(optimizer):
    # One shape for all kernels and one for all biases: each geometry and
    # shape is a compilation of its own (seconds each).
    keras.utils.set_random_seed(0)
    small = keras.initializers.RandomUniform(-0.2, 0.2, seed=0)
    model = keras.Sequential([
        keras.Input((8,)),
        keras.layers.Dense(
            8, activation="tanh", kernel_initializer=small,
            kernel_constraint=kc.constraints.MagnitudeBound(0.3)),
        keras.layers.Dense(
            8, activation="tanh",
            kernel_constraint=kc.constraints.Sphere(1.0)),
        keras.layers.Dense(
            8, kernel_constraint=kc.constraints.SparsityMask(
                np.eye(8, dtype="float32"))),
    ])
    model.compile(optimizer, "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = rng.normal(size=(64, 8)).astype("float32")
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return [to_numpy(w) for w in model.weights]


@pytest.mark.parametrize("make_optimizer", [
    lambda: kc.optimizers.UnderdampedLangevin(
        0.1, friction=1.0, temperature=1e-4, seed=1),
    lambda: kc.optimizers.UnderdampedLangevin(0.1, friction=1.0),
    lambda: kc.optimizers.OverdampedLangevin(0.05, temperature=1e-4, seed=1),
], ids=["underdamped", "underdamped_T0", "overdamped"])
def test_compiled_steps_take_the_eager_steps(monkeypatch, make_optimizer):
    eager = train(make_optimizer())
    monkeypatch.setattr(fused_update, "TORCH_COMPILE_MIN_SIZE", 0)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="torch.compile failed")
        compiled = train(make_optimizer())
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5)
    assert max(np.max(np.abs(a - b)) for a, b in zip(eager, compiled)) > 0, \
        "the compiled path did not run"
