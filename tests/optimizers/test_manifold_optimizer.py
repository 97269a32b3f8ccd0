"""A new optimizer on the constraints' geometry is one `integrate`: the base
class reads the geometries, holds the coordinates and slots, keeps Keras'
projection away and guards non-finite steps."""

import keras
import numpy as np
import pytest
from helpers import to_numpy

from keras_constrained import constraints
from keras_constrained.optimizers import ManifoldOptimizer


class RiemannianDescent(ManifoldOptimizer):
    """Projected gradient flow: `move` along the Riemannian gradient."""

    slot_names = ("last_step",)

    def integrate(self, geometry, q, slots, gradient, learning_rate):
        step = -learning_rate * geometry.tangent(q, gradient)
        q_new, _ = geometry.move(q, step, 1.0)
        return q_new, {"last_step": step}


def model_with(constraint):
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(5, name="constrained",
                           kernel_initializer="orthogonal",
                           kernel_constraint=constraint),
        keras.layers.Dense(2, name="free"),
    ])


def data():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(32, 6)).astype("float32"),
            rng.normal(size=(32, 2)).astype("float32"))


def test_a_subclass_keeps_its_set_and_equals_sgd_elsewhere():
    x, y = data()
    ours = model_with(constraints.Orthogonal())
    ours.compile(optimizer=RiemannianDescent(0.05), loss="mse")
    stock = model_with(constraints.Orthogonal())
    stock.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    stock.set_weights(ours.get_weights())
    losses = ours.fit(x, y, batch_size=32, epochs=20, verbose=0,
                      shuffle=False).history["loss"]
    assert losses[-1] < losses[0]
    kernel = ours.get_layer("constrained").kernel
    assert float(kernel.constraint.violation(kernel)) <= 1e-5
    state = ours.optimizer.variable_state(kernel)
    assert state.coordinates is None
    assert isinstance(state.geometry, constraints.Orthogonal)
    step = to_numpy(state.slots["last_step"])
    assert np.abs(step).max() > 0
    # The free layer's steps are plain SGD's, given the same inputs: one
    # step from equal weights gives equal free weights.
    ours.set_weights(stock.get_weights())
    ours.train_on_batch(x, y)
    stock.train_on_batch(x, y)
    for name in ("free",):
        for a, b in zip(ours.get_layer(name).get_weights(),
                        stock.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_unconstrained_variables_get_flat_geometry_and_their_slots():
    model = model_with(None)
    optimizer = RiemannianDescent(0.1)
    optimizer.build(model.trainable_variables)
    for variable in model.trainable_variables:
        state = optimizer.variable_state(variable)
        assert isinstance(state.geometry, constraints.Euclidean)
        assert set(state.slots) == {"last_step"}
        assert tuple(state.slots["last_step"].shape) == tuple(variable.shape)


def test_a_non_finite_gradient_leaves_weights_and_slots_as_they_were():
    model = model_with(constraints.MagnitudeBound(0.5))
    optimizer = RiemannianDescent(0.1)
    variables = model.trainable_variables
    optimizer.build(variables)
    optimizer.apply([np.ones(v.shape, "float32") for v in variables])
    before = [to_numpy(v).copy() for v in variables + optimizer.variables
              if v is not optimizer.iterations]
    optimizer.apply([np.full(v.shape, np.nan, "float32") for v in variables])
    after = [to_numpy(v) for v in variables + optimizer.variables
             if v is not optimizer.iterations]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_a_bad_learning_rate_names_the_argument():
    with pytest.raises(ValueError, match="learning_rate"):
        RiemannianDescent(-0.1)
