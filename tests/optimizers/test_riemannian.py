"""RiemannianSGD and RiemannianAdam: Keras' SGD and Adam where there is no
set, the sets kept over many large steps, and problems on the sets whose
answers are known, solved through `model.fit`."""

import keras
import numpy as np
import pytest
from helpers import to_numpy
from keras import ops

from keras_constrained import constraints
from keras_constrained.optimizers import RiemannianAdam
from keras_constrained.optimizers import RiemannianSGD

# (ours, Keras' own), the same arguments.
PAIRS = {
    "sgd": (RiemannianSGD, keras.optimizers.SGD, dict(learning_rate=0.1)),
    "sgd-momentum": (RiemannianSGD, keras.optimizers.SGD,
                     dict(learning_rate=0.05, momentum=0.9)),
    "sgd-nesterov": (RiemannianSGD, keras.optimizers.SGD,
                     dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
    "adam": (RiemannianAdam, keras.optimizers.Adam,
             dict(learning_rate=0.01)),
    "adam-amsgrad": (RiemannianAdam, keras.optimizers.Adam,
                     dict(learning_rate=0.01, amsgrad=True)),
    "adamw": (RiemannianAdam, keras.optimizers.AdamW,
              dict(learning_rate=0.01, weight_decay=0.05)),
}


def mlp(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(3),
    ])


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_unconstrained_steps_are_keras_steps(name):
    ours, theirs, kwargs = PAIRS[name]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = rng.normal(size=(64, 3)).astype("float32")
    models = []
    for optimizer in (ours(**kwargs), theirs(**kwargs)):
        model = mlp()
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0)
        models.append(model)
    for a, b in zip(*(m.get_weights() for m in models)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


CONSTRAINED = {
    "orthogonal": lambda: constraints.Orthogonal(),
    "sphere": lambda: constraints.Sphere(1.0),
    "magnitude-bound": lambda: constraints.MagnitudeBound(0.2),
}


@pytest.mark.parametrize("optimizer", [
    lambda: RiemannianAdam(0.3),
    lambda: RiemannianSGD(1.0, momentum=0.9, nesterov=True)])
def test_sets_hold_over_ten_thousand_large_steps(optimizer):
    # JAX and TensorFlow run 500 steps per call. Eager torch, one step per
    # call, takes about a minute per optimizer for 10,000 steps: it runs
    # 2,000, through the same `keras.ops` code.
    torch = keras.config.backend() == "torch"
    steps = 2_000 if torch else 10_000
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,))] + [
        keras.layers.Dense(
            6, activation="tanh", name=name,
            kernel_initializer=keras.initializers.RandomUniform(-0.2, 0.2),
            kernel_constraint=make())
        for name, make in CONSTRAINED.items()])
    model.compile(optimizer=optimizer(), loss="mse",
                  steps_per_execution=1 if torch else 500)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 6)).astype("float32")
    y = 3 * rng.normal(size=(8, 6)).astype("float32")
    x, y = np.tile(x, (steps, 1)), np.tile(y, (steps, 1))
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert int(model.optimizer.iterations) == steps
    for layer in model.layers:
        assert np.all(np.isfinite(to_numpy(layer.kernel)))
        assert float(layer.kernel.constraint.violation(layer.kernel)) <= 1e-5


def fit(model, optimizer, x, y, loss, steps):
    model.compile(optimizer=optimizer, loss=loss)
    model.fit(np.tile(x, (steps, 1)), np.tile(y, (steps, 1)),
              batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return to_numpy(model.layers[0].kernel)


def one_layer(n, units, constraint, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((n,)), keras.layers.Dense(
        units, use_bias=False, kernel_initializer="orthogonal",
        kernel_constraint=constraint)])


@pytest.mark.parametrize("optimizer", [
    lambda: RiemannianAdam(0.02), lambda: RiemannianSGD(0.05, momentum=0.5)])
def test_leading_eigenvectors_maximize_the_trace(optimizer):
    # -trace(W^T A W) = -||A^(1/2) W||_F^2 over orthonormal columns W: its
    # minimum is minus the sum of the k largest eigenvalues.
    n, k = 8, 3
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eigenvalues = np.linspace(1.0, 4.0, n)
    root = (basis * np.sqrt(eigenvalues)) @ basis.T
    model = one_layer(n, k, constraints.Orthogonal())
    w = fit(model, optimizer(), root.astype("float32"),
            np.zeros((n, k), "float32"),
            lambda y_true, y_pred: -n * ops.sum(ops.square(y_pred), axis=-1),
            steps=800)
    a = root @ root
    best = eigenvalues[-k:].sum()
    assert abs(np.trace(w.T @ a @ w) - best) <= 1e-4 * best


@pytest.mark.parametrize("optimizer", [
    lambda: RiemannianAdam(0.02), lambda: RiemannianSGD(1.0, momentum=0.5)])
def test_procrustes_finds_the_polar_factor(optimizer):
    # The orthogonal matrix nearest to M in the Frobenius norm is U V^T.
    # Steps on the set cannot change the sign of the determinant: M's
    # polar factor is taken in the starting point's component.
    n = 6
    model = one_layer(n, n, constraints.Orthogonal())
    m = np.random.default_rng(2).normal(size=(n, n))
    if np.linalg.det(m) * np.linalg.det(to_numpy(model.layers[0].kernel)) < 0:
        m[:, 0] *= -1
    u, _, vt = np.linalg.svd(m)
    w = fit(model, optimizer(), np.eye(n, dtype="float32"),
            m.astype("float32"), "mse", steps=600)
    np.testing.assert_allclose(w, u @ vt, atol=1e-4)


def karcher_mean(points, iterations=200):
    """The fixed point x = exp_x(mean_i log_x(p_i)) on the unit sphere."""
    x = points.mean(0) / np.linalg.norm(points.mean(0))
    for _ in range(iterations):
        cos = np.clip(points @ x, -1, 1)
        angle = np.arccos(cos)
        normal = points - cos[:, None] * x
        norm = np.linalg.norm(normal, axis=1, keepdims=True)
        step = (angle[:, None] * normal / np.maximum(norm, 1e-300)).mean(0)
        size = np.linalg.norm(step)
        x = np.cos(size) * x + np.sin(size) * step / max(size, 1e-300)
    return x


@pytest.mark.parametrize("optimizer", [
    lambda: RiemannianAdam(0.01), lambda: RiemannianSGD(0.2, momentum=0.5)])
def test_karcher_mean_on_the_sphere(optimizer):
    # The mean of squared geodesic distances arccos(<x, p_i>)^2 is least at
    # the Karcher mean of the points.
    rng = np.random.default_rng(3)
    centre = np.array([1.0, 1.0, 0.0, 0.5]) / 1.5
    points = centre + 0.4 * rng.normal(size=(20, 4))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    model = one_layer(4, 1, constraints.Sphere(1.0))

    def squared_distance(y_true, y_pred):
        return ops.square(ops.arccos(ops.clip(y_pred[:, 0], -1.0, 1.0)))

    w = fit(model, optimizer(), points.astype("float32"),
            np.zeros((20, 1), "float32"), squared_distance, steps=800)
    np.testing.assert_allclose(w[:, 0], karcher_mean(points), atol=1e-4)


@pytest.mark.parametrize("constraint", sorted(CONSTRAINED))
def test_transported_moments_stay_tangent(constraint):
    model = one_layer(6, 4, CONSTRAINED[constraint]())
    rng = np.random.default_rng(4)
    optimizer = RiemannianAdam(0.05)
    fit(model, optimizer, rng.normal(size=(16, 6)).astype("float32"),
        rng.normal(size=(16, 4)).astype("float32"), "mse", steps=30)
    state = optimizer.variable_state(model.layers[0].kernel)
    q = ops.convert_to_tensor(state.coordinates if state.coordinates
                              is not None else model.layers[0].kernel)
    m = ops.convert_to_tensor(state.slots["momentum"])
    assert float(ops.max(ops.abs(m))) > 1e-4  # it moved
    np.testing.assert_allclose(to_numpy(state.geometry.tangent(q, m)),
                               to_numpy(m), atol=1e-6)
