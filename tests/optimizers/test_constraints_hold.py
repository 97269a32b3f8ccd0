"""Noisy runs stay on every constraint set with tangent momenta, at every
epoch of the run, not only at its end."""

import keras
import numpy as np
import pytest
from helpers import to_numpy

from keras_constrained import constraints
from keras_constrained.callbacks import ConstraintMonitor
from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import UnderdampedLangevin

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def ring(n):
    eye = np.eye(n)
    return eye + np.roll(eye, 1, axis=0) + np.roll(eye, -1, axis=0)


def constrained_mlp():
    def dense(units, constraint, **kwargs):
        return keras.layers.Dense(units, activation="tanh",
                                  kernel_constraint=constraint, **kwargs)

    return keras.Sequential([
        keras.Input((8,)),
        dense(6, constraints.Orthogonal(), kernel_initializer="orthogonal"),
        dense(12, constraints.Orthogonal()),  # wide, starts off the set
        dense(12, constraints.Sphere(1.0)),
        dense(12, constraints.MagnitudeBound(0.2),
              kernel_initializer=keras.initializers.RandomUniform(-0.2, 0.2)),
        dense(12, constraints.SparsityMask(ring(12))),
        keras.layers.Dense(3),
    ])


# Every step lands on the sets (to 1e-7) and makes the momenta tangent
# afresh, so nothing accumulates; a regression that let rounding drift
# in at even 2e-8 per step (a third of float32's resolution) would exceed
# the 1e-5 bound within these 1000 steps. The violation is checked at each
# of the 20 epoch ends, so a step that lands badly now and then is caught
# too.
@pytest.mark.parametrize("optimizer", [
    lambda: UnderdampedLangevin(0.1, temperature=1e-3, seed=0),
    lambda: OverdampedLangevin(0.05, temperature=1e-3, seed=0),
    lambda: UnderdampedLangevin(0.1, temperature=1e-3, scheme="OBA",
                                seed=0),
], ids=["BAOAB", "overdamped", "OBA"])
def test_every_constraint_holds_and_momenta_stay_tangent(optimizer):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8)).astype("float32")
    y = rng.integers(0, 3, 400)
    model = constrained_mlp()
    model.compile(optimizer(), LOSS)
    history = model.fit(x, y, batch_size=8, epochs=20, verbose=0,
                        callbacks=[ConstraintMonitor()])
    assert max(history.history["max_violation"]) <= 1e-5
    opt = model.optimizer
    assert int(opt.iterations) == 1000
    for layer in model.layers[:-1]:
        kernel, constraint = layer.kernel, layer.kernel.constraint
        assert np.isfinite(to_numpy(kernel)).all(), layer.name
        assert float(constraint.violation(kernel)) <= 1e-5, layer.name
        state = opt.variable_state(kernel)
        q = kernel if state.coordinates is None else state.coordinates
        assert float(constraint.violation(constraint.lower(q))) <= 1e-5
        for momentum in state.slots.values():
            p = to_numpy(momentum)
            tangent = to_numpy(constraint.tangent(q, momentum))
            assert np.abs(p - tangent).max() <= 1e-5 * max(
                1.0, np.abs(p).max()), layer.name
