"""Optimizer state: built up front, seeded noise, saving, bad input."""

import keras
import numpy as np
import pytest
from helpers import particle_model
from helpers import run_steps
from helpers import save_and_reload
from helpers import to_numpy

from keras_constrained import constraints
from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import RiemannianAdam
from keras_constrained.optimizers import RiemannianSGD
from keras_constrained.optimizers import UnderdampedLangevin

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def small_model():
    return keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(
            7, activation="tanh", name="circle",
            kernel_initializer=keras.initializers.RandomUniform(-0.3, 0.3),
            kernel_constraint=constraints.MagnitudeBound(0.3)),
        keras.layers.Dense(
            4, activation="tanh", name="stiefel",
            kernel_initializer="orthogonal",
            kernel_constraint=constraints.Orthogonal()),
        keras.layers.Dense(3, name="free"),
    ])


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 5)).astype("float32"),
            rng.integers(0, 3, n))


def test_all_state_exists_after_build():
    model = small_model()
    optimizer = UnderdampedLangevin(0.1, temperature=0.1, seed=0)
    optimizer.build(model.trainable_variables)
    names = [v.name for v in optimizer.variables]
    # iterations, learning rate, seed state, one momentum per variable and
    # the arc lengths on the MagnitudeBound kernel's circles.
    assert len(names) == 3 + 6 + 1, names
    circle = model.get_layer("circle").kernel
    coordinates = optimizer.variable_state(circle).coordinates
    assert tuple(coordinates.shape) == (5, 7)
    # The first step lifts the weights onto their circles.
    optimizer.apply([np.zeros(v.shape, "float32")
                     for v in model.trainable_variables])
    s = to_numpy(coordinates)
    np.testing.assert_allclose(0.3 * np.sin(s / 0.3), to_numpy(circle),
                               atol=1e-6)


@pytest.mark.skipif(keras.config.backend() != "jax",
                    reason="stateless_apply is the JAX training path")
def test_stateless_apply_threads_all_state_under_jit():
    import jax

    model = small_model()
    optimizer = UnderdampedLangevin(0.1, temperature=0.1, seed=0)
    optimizer.build(model.trainable_variables)
    grads = [np.ones(v.shape, "float32") for v in model.trainable_variables]

    @jax.jit
    def step(opt_vars, train_vars):
        return optimizer.stateless_apply(opt_vars, grads, train_vars)

    train_vars = [v.value for v in model.trainable_variables]
    opt_vars = [v.value for v in optimizer.variables]
    seeds = []
    for _ in range(3):
        train_vars, opt_vars = step(opt_vars, train_vars)
        seeds.append(np.asarray(opt_vars[2]))
    assert len({tuple(s) for s in seeds}) == 3  # the seed state advanced


def noisy_particles(seed, steps):
    model, layer = particle_model(
        OverdampedLangevin(0.1, temperature=1.0, seed=seed), shape=(50,))
    positions = []
    for _ in range(steps):
        run_steps(model, 1)
        positions.append(to_numpy(layer.w).copy())
    return np.array(positions)


def test_noise_is_fresh_every_step_and_reproducible_with_a_seed():
    first = noisy_particles(seed=7, steps=3)
    increments = np.diff(np.concatenate([np.zeros((1, 50)), first]), axis=0)
    # Zero loss: each increment is sqrt(2 h T) times fresh Gaussian noise.
    for a in range(3):
        assert np.std(increments[a]) == pytest.approx(np.sqrt(0.2), rel=0.4)
        for b in range(a):
            assert abs(np.corrcoef(increments[a], increments[b])[0, 1]) < 0.5
    np.testing.assert_array_equal(noisy_particles(seed=7, steps=3), first)
    assert not np.allclose(noisy_particles(seed=8, steps=3), first)


def test_no_noise_is_drawn_at_zero_temperature():
    model, layer = particle_model(OverdampedLangevin(0.1, seed=0),
                                  shape=(10,))
    state = to_numpy(model.optimizer._seed_state).copy()
    run_steps(model, 5)
    np.testing.assert_array_equal(to_numpy(layer.w), 0.0)
    np.testing.assert_array_equal(to_numpy(model.optimizer._seed_state),
                                  state)


@pytest.mark.parametrize("optimizer", [
    lambda: UnderdampedLangevin(0.2, temperature=0.01, seed=4),
    lambda: OverdampedLangevin(0.2, temperature=0.01, seed=4),
    lambda: RiemannianAdam(0.05, amsgrad=True),
    lambda: RiemannianSGD(0.1, momentum=0.9)])
def test_resuming_from_a_saved_model_is_exact(optimizer, tmp_path):
    # The model trains on after being saved: its second fit is the
    # uninterrupted run the reloaded copy must reproduce.
    x, y = data()
    model = small_model()
    model.compile(optimizer(), LOSS)
    model.fit(x, y, batch_size=8, shuffle=False, verbose=0)
    resumed = save_and_reload(model, tmp_path)
    assert type(resumed.optimizer) is type(model.optimizer)
    assert resumed.optimizer.get_config() == model.optimizer.get_config()
    for trained in (model, resumed):
        trained.fit(x, y, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.weights, resumed.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)
    for a, b in zip(model.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)


def test_a_non_finite_gradient_leaves_its_variable_and_state_alone():
    model = small_model()
    optimizer = UnderdampedLangevin(0.1, temperature=0.1, seed=0)
    variables = model.trainable_variables
    optimizer.build(variables)
    grads = [np.ones(v.shape, "float32") for v in variables]
    optimizer.apply(grads, variables)  # non-zero momenta everywhere
    circle = model.get_layer("circle").kernel
    assert variables[0] is circle
    state = optimizer.variable_state(circle)
    frozen = {id(circle), id(state.coordinates),
              id(state.slots["momentum"])}
    # One optimizer (its steps compiled once) for both kinds of bad value.
    for bad in (np.nan, np.inf):
        before = [to_numpy(v).copy() for v in variables + optimizer.variables]
        grads[0] = np.ones(circle.shape, "float32")
        grads[0][0, 0] = bad
        optimizer.apply(grads, variables)
        after = [to_numpy(v) for v in variables + optimizer.variables]
        for v, b, a in zip(variables + optimizer.variables, before, after):
            assert np.isfinite(a).all(), bad
            if id(v) in frozen:
                np.testing.assert_array_equal(a, b)
        # The other variables moved.
        assert not np.allclose(after[2], before[2]), bad


@pytest.mark.skipif(keras.config.backend() == "torch",
                    reason="jit_compile on torch is torch.compile, which "
                    "recompiles per step here and takes minutes")
def test_jit_compile_and_loss_scaling():
    x, y = data()
    model = small_model()
    model.compile(keras.optimizers.LossScaleOptimizer(
        UnderdampedLangevin(0.1, temperature=1e-3, seed=0)), LOSS,
        jit_compile=True)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for name in ("circle", "stiefel"):
        kernel = model.get_layer(name).kernel
        assert float(kernel.constraint.violation(kernel)) <= 1e-5


def test_config_round_trip():
    for optimizer in (
            UnderdampedLangevin(0.3, friction=2.0, temperature=1e-4,
                                scheme="OBA", seed=3, clipnorm=1.0),
            OverdampedLangevin(0.05, temperature=0.1, seed=None)):
        config = optimizer.get_config()
        clone = type(optimizer).from_config(config)
        assert clone.get_config() == config
        restored = keras.optimizers.deserialize(
            keras.optimizers.serialize(optimizer))
        assert type(restored) is type(optimizer)
        assert restored.get_config() == config


@pytest.mark.parametrize("cls, kwargs, name", [
    (OverdampedLangevin, {"temperature": -1.0}, "temperature"),
    (OverdampedLangevin, {"temperature": float("inf")}, "temperature"),
    (OverdampedLangevin, {"temperature": "hot"}, "temperature"),
    (OverdampedLangevin, {"seed": 1.5}, "seed"),
    (UnderdampedLangevin, {"friction": -0.1}, "friction"),
    (UnderdampedLangevin, {"friction": None}, "friction"),
    (UnderdampedLangevin, {"scheme": "ABO"}, "scheme"),
    (RiemannianSGD, {"momentum": 1.0}, "momentum"),
    (RiemannianSGD, {"momentum": -0.1}, "momentum"),
    (RiemannianSGD, {"nesterov": "yes"}, "nesterov"),
    (RiemannianAdam, {"beta_1": 1.0}, "beta_1"),
    (RiemannianAdam, {"beta_2": -0.5}, "beta_2"),
    (RiemannianAdam, {"epsilon": 0.0}, "epsilon"),
    (RiemannianAdam, {"amsgrad": 1}, "amsgrad"),
])
def test_rejects_bad_arguments(cls, kwargs, name):
    with pytest.raises((TypeError, ValueError), match=f"`{name}`.*{name}="):
        cls(0.1, **kwargs)


def test_rejects_a_constraint_that_does_not_fit_its_variable():
    model = keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(4, kernel_constraint=constraints.SparsityMask(
            np.ones((4, 4))))])
    with pytest.raises(ValueError, match="`mask` has shape"):
        OverdampedLangevin(0.1).build(model.trainable_variables)
