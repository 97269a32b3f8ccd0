"""PreconditionedLangevin (pSGLD): the paper's update, the Gaussians it
samples where its dropped correction term vanishes, the sets it keeps and
the ones it refuses, and the state it saves."""

import math

import keras
import numpy as np
import pytest
from helpers import particle_model
from helpers import run_steps
from helpers import save_and_reload
from helpers import to_numpy
from scipy import stats

from keras_constrained import constraints
from keras_constrained.optimizers import PreconditionedLangevin


def reference_steps(w, k, h, rho, epsilon, steps, radius=None, mask=None):
    """The update of the class docstring in NumPy, at temperature 0, on the
    potential `k/2 * w**2`; `radius` for MagnitudeBound's arc lengths."""
    w = w.astype("float64")
    s = w if radius is None else radius * np.arcsin(w / radius)
    v = np.zeros_like(w)
    for _ in range(steps):
        weights = s if radius is None else radius * np.sin(s / radius)
        g = k * weights
        if radius is not None:
            g = g * np.cos(s / radius)
        if mask is not None:
            g = g * mask
        v = rho * v + (1 - rho) * g * g
        s = s - h * g / (epsilon + np.sqrt(v))
    return s if radius is None else radius * np.sin(s / radius)


@pytest.mark.parametrize("constraint", ["none", "magnitude_bound",
                                        "sparsity_mask"])
def test_steps_are_the_papers_update(constraint):
    rng = np.random.default_rng(0)
    w0 = rng.uniform(-0.4, 0.4, size=(12,)).astype("float32")
    mask = (np.arange(12) % 3 > 0).astype("float32")
    kwargs, reference = {}, {}
    if constraint == "magnitude_bound":
        kwargs["constraint"] = constraints.MagnitudeBound(0.5)
        reference["radius"] = 0.5
    elif constraint == "sparsity_mask":
        kwargs["constraint"] = constraints.SparsityMask(mask)
        reference["mask"] = mask
        w0 = w0 * mask
    model, layer = particle_model(
        PreconditionedLangevin(0.05, rho=0.9, epsilon=1e-3), shape=(12,),
        curvature=1.5, initializer=keras.initializers.Constant(w0), **kwargs)
    run_steps(model, 20)
    expected = reference_steps(w0, 1.5, 0.05, 0.9, 1e-3, 20, **reference)
    np.testing.assert_allclose(to_numpy(layer.w), expected, rtol=1e-4,
                               atol=1e-6)


def anisotropic_particles(optimizer, n, temperature, curvatures):
    """`n` particles per curvature, started from their Gaussians."""
    k = np.repeat(np.asarray(curvatures, "float32"), n)
    rng = np.random.default_rng(1)
    w0 = (rng.normal(size=k.size) * np.sqrt(temperature / k)).astype(
        "float32")
    model, layer = particle_model(
        optimizer, shape=(k.size,), curvature=k,
        initializer=keras.initializers.Constant(w0))
    model.optimizer.build(model.trainable_variables)
    return model, layer, k


def test_a_constant_preconditioner_samples_each_gaussian_exactly():
    # rho = 1 holds the second moment where it is set: a constant,
    # anisotropic preconditioner, where the dropped term is exactly 0.
    h, temperature, n, curvatures = 0.01, 0.5, 10000, (1.0, 25.0)
    model, layer, k = anisotropic_particles(
        PreconditionedLangevin(h, rho=1.0, epsilon=0.1,
                               temperature=temperature, seed=2),
        n, temperature, curvatures)
    velocity = model.optimizer.variable_state(layer.w).slots["velocity"]
    velocity.assign(k * temperature)  # E[g^2] at equilibrium
    run_steps(model, 500)
    w = to_numpy(layer.w).astype("float64")
    np.testing.assert_allclose(to_numpy(velocity), k * temperature)
    for i, c in enumerate(curvatures):
        part = w[i * n:(i + 1) * n]
        step = h * c / (0.1 + math.sqrt(c * temperature))  # h G k
        # Euler-Maruyama's exact stationary variance at this step.
        expected = temperature / c / (1 - step / 2)
        # Relative standard error of a variance of n normals: 1.4%.
        assert np.var(part) == pytest.approx(expected, rel=0.06)
        assert stats.normaltest(part).pvalue > 1e-3


def test_the_preconditioner_learns_each_coordinates_scale():
    # From an isotropic v (the flat coordinates' value), v settles at
    # E[g^2] = k T per coordinate, slowing the steep coordinates by
    # sqrt(100); with rho close to 1 the dropped term is small and each
    # Gaussian is kept. (From v = 0 the first steps are huge wherever the
    # gradient is small, and their squares take thousands of steps to
    # fade from v.)
    h, temperature, n, curvatures = 5e-4, 0.01, 5000, (1.0, 100.0)
    model, layer, k = anisotropic_particles(
        PreconditionedLangevin(h, rho=0.999, temperature=temperature,
                               seed=3),
        n, temperature, curvatures)
    velocity = model.optimizer.variable_state(layer.w).slots["velocity"]
    velocity.assign(np.full(k.shape, temperature, "float32"))
    run_steps(model, 6000)
    w = to_numpy(layer.w).astype("float64")
    v = to_numpy(velocity)
    assert v[n:].mean() == pytest.approx(100.0 * temperature, rel=0.1)
    assert v[:n].mean() == pytest.approx(temperature, rel=0.2)
    assert np.var(w[n:]) == pytest.approx(temperature / 100.0, rel=0.08)
    # The flat coordinates carry the dropped term's bias: their variance
    # is within 20% (it was 1.1 T / k at this rho, 1.5 at rho = 0.99).
    assert np.var(w[:n]) == pytest.approx(temperature, rel=0.2)


def test_magnitude_bound_holds_and_the_flat_loss_gives_the_arcsine_law():
    r, n = 0.5, 20000
    model, layer = particle_model(
        PreconditionedLangevin(0.01, rho=1.0, epsilon=0.5, temperature=0.25,
                               seed=4),
        shape=(n,), constraint=constraints.MagnitudeBound(r))
    run_steps(model, 600)
    w = to_numpy(layer.w).astype("float64")
    assert np.abs(w).max() <= r * (1 + 1e-6)
    cdf = lambda x: 0.5 + np.arcsin(np.clip(x / r, -1, 1)) / np.pi
    assert stats.kstest(w, cdf).pvalue > 1e-3


def elementwise_model():
    return keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(
            6, activation="tanh", name="circle",
            kernel_initializer=keras.initializers.RandomUniform(-0.3, 0.3),
            kernel_constraint=constraints.MagnitudeBound(0.3)),
        keras.layers.Dense(3, name="masked", kernel_constraint=(
            constraints.SparsityMask(np.tri(6, 3)))),
    ])


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 5)).astype("float32"),
            rng.integers(0, 3, n))


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def test_trains_on_its_sets_and_resumes_exactly_after_saving(tmp_path):
    x, y = data()
    model = elementwise_model()
    model.compile(PreconditionedLangevin(1e-2, temperature=1e-4, seed=5),
                  LOSS)
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first
    for v in model.trainable_variables:
        if v.constraint is not None:
            assert float(v.constraint.violation(v)) <= 1e-6, v.path
    resumed = save_and_reload(model, tmp_path)
    assert resumed.optimizer.get_config() == model.optimizer.get_config()
    for trained in (model, resumed):
        trained.fit(x, y, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.weights + model.optimizer.variables,
                    resumed.weights + resumed.optimizer.variables):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)


@pytest.mark.skipif(keras.config.backend() != "jax",
                    reason="the state threaded through JAX's jit")
def test_state_exists_after_build_and_the_noise_advances_under_jit():
    model = elementwise_model()
    optimizer = PreconditionedLangevin(1e-2, temperature=1e-3, seed=0)
    optimizer.build(model.trainable_variables)
    velocities = [optimizer.variable_state(v).slots["velocity"]
                  for v in model.trainable_variables]
    held = [id(v) for v in optimizer.variables]
    assert all(id(v) in held for v in velocities)
    seed_index = held.index(id(optimizer._seed_state))
    grads = [np.ones(v.shape, "float32") for v in model.trainable_variables]
    state = [v.value for v in optimizer.variables]
    weights = [v.value for v in model.trainable_variables]
    import jax
    step = jax.jit(optimizer.stateless_apply)
    seeds = []
    for _ in range(2):
        weights, state = step(state, grads, weights)
        seeds.append(to_numpy(state[seed_index]))
    assert not np.array_equal(*seeds)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        x, y = data()
        model = elementwise_model()
        model.compile(PreconditionedLangevin(1e-2, temperature=1e-4, seed=0),
                      LOSS)
        loss = model.fit(x, y, batch_size=8, verbose=0).history["loss"]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(loss).all()
    assert {v.dtype for v in model.optimizer.variables
            if keras.backend.is_float_dtype(v.dtype)} == {"float32"}
    kernel = model.get_layer("circle").kernel
    assert float(kernel.constraint.violation(kernel)) <= 1e-6


@pytest.mark.parametrize("constraint", [constraints.Orthogonal(),
                                        constraints.Sphere()])
def test_refuses_constraints_that_couple_their_weights(constraint):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        3, name="coupled", kernel_constraint=constraint)])
    optimizer = PreconditionedLangevin()
    with pytest.raises(ValueError, match=(
            f"coupled/kernel.*{type(constraint).__name__}.*"
            "OverdampedLangevin")):
        optimizer.build(model.trainable_variables)


@pytest.mark.parametrize("kwargs, name", [
    ({"rho": 1.5}, "rho"), ({"rho": -0.1}, "rho"),
    ({"epsilon": 0.0}, "epsilon"), ({"temperature": -1.0}, "temperature"),
    ({"learning_rate": 0.0}, "learning_rate")])
def test_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`.*{name}="):
        PreconditionedLangevin(**kwargs)
