"""Every constraint holds after steps of any size, with every optimizer:
a diverging loss is allowed, weights off their set are not."""

import keras
import numpy as np
import pytest
from helpers import to_numpy

from keras_constrained import constraints
from keras_constrained.optimizers import DSGD
from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import UnderdampedLangevin

STEP_SIZES = (1e-3, 1.0, 1e2, 1e4)


def model_with_every_constraint():
    """Bounded inputs to every layer (tanh) and bounded weights in all but
    the first: every gradient stays bounded, so even 1e4 keeps the weights
    finite while it throws them around their sets. The last layer is
    linear, so that its gradient does not vanish with saturated units."""
    ring = np.eye(6) + np.roll(np.eye(6), 1, 0) + np.roll(np.eye(6), -1, 0)

    def dense(units, constraint, activation="tanh", **kwargs):
        return keras.layers.Dense(units, activation=activation,
                                  use_bias=False,
                                  kernel_constraint=constraint, **kwargs)

    return keras.Sequential([
        keras.Input((6,)),
        dense(6, constraints.SparsityMask(ring)),
        dense(4, constraints.Orthogonal(), kernel_initializer="orthogonal"),
        dense(4, constraints.Sphere(1.0)),
        dense(3, constraints.MagnitudeBound(0.2), activation=None,
              kernel_initializer=keras.initializers.RandomUniform(-0.2, 0.2)),
    ])


@pytest.mark.parametrize("optimizer", [
    lambda: OverdampedLangevin(temperature=1e-3, seed=0),
    lambda: UnderdampedLangevin(temperature=1e-3, seed=0),
    lambda: UnderdampedLangevin(friction=0.0),
    lambda: UnderdampedLangevin(scheme="OBA", friction=0.0),
    lambda: DSGD(),
    lambda: DSGD(norm="spectral"),
    lambda: keras.optimizers.SGD(),
], ids=["overdamped", "BAOAB", "BAOAB-frictionless", "OBA-frictionless",
        "DSGD", "DSGD-spectral", "SGD"])
def test_constraints_hold_after_steps_of_any_size(optimizer):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6)).astype("float32")
    y = rng.normal(size=(16, 3)).astype("float32")
    model = model_with_every_constraint()
    # Summed, for gradients of size 1: after steps of 1e4 without friction
    # the arc lengths of `MagnitudeBound` reach 1e8 times the radius.
    model.compile(optimizer(), keras.losses.MeanSquaredError(reduction="sum"))
    # One compiled step for all sizes: each size takes two steps from where
    # the smaller ones left the weights (and the momenta).
    for step_size in STEP_SIZES:
        model.optimizer.learning_rate = step_size
        for _ in range(2):
            model.train_on_batch(x, y)
        for layer in model.layers:
            kernel = layer.kernel
            assert np.isfinite(to_numpy(kernel)).all(), (step_size,
                                                         layer.name)
            violation = float(kernel.constraint.violation(kernel))
            assert violation <= 1e-5, (step_size, layer.name, violation)
