"""Batches with NaN inputs or inf labels, for every optimizer with every
constraint: the package's optimizers skip the step, a stock optimizer's
NaN reaches the loss and `TerminateOnNaN`; nothing raises."""

import keras
import numpy as np
import pytest
from helpers import to_numpy

from keras_constrained import constraints
from keras_constrained.optimizers import DSGD
from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import RiemannianAdam
from keras_constrained.optimizers import RiemannianSGD
from keras_constrained.optimizers import UnderdampedLangevin


def every_constraint_model():
    """Every constraint once (`Orthogonal` on a Conv kernel); the biases are
    unconstrained. (`Orthogonal`'s other cases are below: in a Langevin
    step each kernel shape costs an XLA compilation under TensorFlow.)"""
    inputs = keras.Input((3, 3, 2))
    x = keras.layers.Conv2D(  # (8, 4): orthonormal columns
        4, 2, activation="tanh", kernel_initializer="orthogonal",
        kernel_constraint=constraints.Orthogonal())(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(
        6, activation="tanh",
        kernel_initializer=keras.initializers.RandomUniform(-0.3, 0.3),
        kernel_constraint=constraints.MagnitudeBound(0.3))(x)
    x = keras.layers.Dense(6, activation="tanh",
                           kernel_constraint=constraints.Sphere(1.0))(x)
    outputs = keras.layers.Dense(1, kernel_constraint=constraints.SparsityMask(
        [[1], [0], [1], [1], [0], [1]]))(x)
    return keras.Model(inputs, outputs)


def data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 3, 3, 2)).astype("float32"),
            rng.normal(size=(n, 1)).astype("float32"))


def non_finite_batches(x, y):
    """A batch with a NaN input, and one with an inf label."""
    nan_x = x.copy()
    nan_x[0, 1, 1, 0] = np.nan
    inf_y = y.copy()
    inf_y[1, 0] = np.inf
    return {"nan_input": (nan_x, y), "inf_label": (x, inf_y)}


PACKAGE_OPTIMIZERS = {
    "overdamped": lambda: OverdampedLangevin(0.01, temperature=1e-4, seed=1),
    "underdamped": lambda: UnderdampedLangevin(
        0.05, friction=1.0, temperature=1e-4, seed=1),
    # Both norms, both kinds of smoothness, and the architecture scale's
    # power iteration.
    "dsgd_frobenius_fixed": lambda: DSGD(0.5, smoothness=4.0,
                                         norm="frobenius"),
    "dsgd_spectral_adaptive": lambda: DSGD(norm="spectral",
                                           scale="architecture"),
    "riemannian_adam": lambda: RiemannianAdam(0.01, amsgrad=True),
    "riemannian_sgd": lambda: RiemannianSGD(0.05, momentum=0.9),
}

# What a skipped step changes: Keras counts every batch, the Langevin
# optimizers draw the noise of every batch, DSGD reports -1.
ADVANCING = ("iteration", "seed_generator_state", "chosen_layer")


def snapshot(model):
    return ([to_numpy(w) for w in model.weights],
            {v.path: to_numpy(v) for v in model.optimizer.variables})


def assert_same_state(model, weights, state, skip=ADVANCING, rtol=0.0):
    new_weights, new_state = snapshot(model)
    for before, after in zip(weights, new_weights):
        # Keras applies the constraints after DSGD's steps: a projection of
        # weights on their set, exact but for rounding.
        np.testing.assert_allclose(after, before, rtol=rtol, atol=1e-6)
    for path, value in state.items():
        if path.split("/")[-1] not in skip:
            np.testing.assert_allclose(new_state[path], value, rtol=rtol,
                                       err_msg=path)


@pytest.mark.filterwarnings("ignore:DSGD skipped a step")
@pytest.mark.parametrize("name", sorted(PACKAGE_OPTIMIZERS))
def test_a_non_finite_batch_leaves_weights_and_state_unchanged(name):
    model = every_constraint_model()
    optimizer = PACKAGE_OPTIMIZERS[name]()
    model.compile(optimizer, "mse")
    x, y = data()
    model.train_on_batch(x, y)  # state away from its initial values
    weights, state = snapshot(model)
    iterations = int(optimizer.iterations)
    for kind, (bad_x, bad_y) in non_finite_batches(x, y).items():
        model.train_on_batch(bad_x, bad_y)
        assert_same_state(model, weights, state)
        if isinstance(optimizer, DSGD):
            assert int(optimizer.chosen_layer) == -1, kind
    assert int(optimizer.iterations) == iterations + 2

    # The next step is the step that would have followed the finite one:
    # from the same weights with the optimizer variables as they were
    # before the skipped batches (the noise's seed, and the batch count
    # that RiemannianAdam's bias correction reads, where they are now).
    skipped_weights, skipped_state = snapshot(model)
    model.train_on_batch(x, y)
    after_skips = snapshot(model)
    model.set_weights(skipped_weights)
    for variable in optimizer.variables:
        source = (skipped_state if variable.name in (
            "seed_generator_state", "iteration") else state)
        variable.assign(source[variable.path])
    model.train_on_batch(x, y)
    assert_same_state(model, *after_skips, skip=("iteration",), rtol=1e-6)
    if isinstance(optimizer, DSGD):
        assert int(optimizer.chosen_layer) >= 0


def test_stock_sgd_with_every_constraint_stops_on_a_non_finite_batch():
    # The constraints' projections return the non-finite kernels rather
    # than raising (the SVD of `Orthogonal` would): the loss is not
    # finite and `TerminateOnNaN` stops at that batch.
    model = every_constraint_model()
    model.compile(keras.optimizers.SGD(0.01), "mse")
    x, y = data()
    start = model.get_weights()
    for kind, (bad_x, bad_y) in non_finite_batches(x, y).items():
        model.set_weights(start)
        batches = []
        model.fit(
            np.concatenate([x, bad_x, x]), np.concatenate([y, bad_y, y]),
            batch_size=len(x), epochs=2, shuffle=False, verbose=0,
            callbacks=[keras.callbacks.TerminateOnNaN(),
                       keras.callbacks.LambdaCallback(
                           on_train_batch_end=lambda b, logs: batches.append(
                               b))])
        assert batches == [0, 1], kind
        kernels = [to_numpy(w) for w in model.weights
                   if isinstance(w.constraint, constraints.Orthogonal)]
        assert len(kernels) == 1
        assert not np.all(np.isfinite(kernels[0])), kind


CONSTRAINTS = [
    (constraints.Orthogonal(), (6, 3)),
    (constraints.Orthogonal(), (3, 6)),
    (constraints.Orthogonal(), (2, 2, 2, 3)),
    (constraints.Orthogonal(), (1, 1, 3, 8)),
    (constraints.MagnitudeBound(0.5), (4, 3)),
    (constraints.Sphere(1.0), (4, 3)),
    (constraints.SparsityMask(np.tril(np.ones((4, 4)))), (4, 4)),
]


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_no_constraint_raises_on_non_finite_weights(value):
    rng = np.random.default_rng(0)
    for constraint, shape in CONSTRAINTS:
        w = rng.normal(size=shape).astype("float32")
        w.flat[-1] = value
        projected = to_numpy(constraint(keras.ops.convert_to_tensor(w)))
        assert projected.shape == shape
        if isinstance(constraint, constraints.Orthogonal):
            # No polar factor exists: the weights come back as they were.
            np.testing.assert_array_equal(projected, w)
