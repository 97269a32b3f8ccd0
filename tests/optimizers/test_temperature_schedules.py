"""Langevin temperatures given as schedules, and the cyclical schedule of
cyclical SG-MCMC (Zhang et al., ICLR 2020)."""

import math

import keras
import numpy as np
import pytest
from helpers import particle_model
from helpers import run_steps
from helpers import save_and_reload
from helpers import to_numpy

from keras_constrained import constraints
from keras_constrained.optimizers import CyclicalSchedule
from keras_constrained.optimizers import CyclicalTemperature
from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import PreconditionedLangevin
from keras_constrained.optimizers import UnderdampedLangevin

schedules = keras.optimizers.schedules
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

SAMPLERS = {
    "overdamped": lambda T, seed=3: OverdampedLangevin(
        0.1, temperature=T, seed=seed),
    "BAOAB": lambda T, seed=3: UnderdampedLangevin(
        0.2, friction=1.0, temperature=T, seed=seed),
    "OBA": lambda T, seed=3: UnderdampedLangevin(
        0.2, friction=1.0, temperature=T, scheme="OBA", seed=seed),
}
# pSGLD refuses `small_model`'s Orthogonal kernel: particles only.
PARTICLE_SAMPLERS = dict(SAMPLERS, preconditioned=lambda T, seed=3: (
    PreconditionedLangevin(0.01, temperature=T, seed=seed)))


def constant(value):
    return schedules.PiecewiseConstantDecay([10**6], [value, value])


def small_model():
    return keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(
            7, activation="tanh", name="circle",
            kernel_initializer=keras.initializers.RandomUniform(-0.3, 0.3,
                                                                seed=1),
            kernel_constraint=constraints.MagnitudeBound(0.3)),
        keras.layers.Dense(
            4, activation="tanh", name="stiefel",
            kernel_initializer=keras.initializers.Orthogonal(seed=2),
            kernel_constraint=constraints.Orthogonal()),
        keras.layers.Dense(3, name="free",
                           kernel_initializer=keras.initializers.GlorotUniform(
                               seed=3)),
    ])


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 5)).astype("float32"),
            rng.integers(0, 3, n))


def trained(optimizer, epochs=1):
    x, y = data()
    model = small_model()
    model.compile(optimizer, LOSS)
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    return model


def trajectory(optimizer, steps, curvature=1.0):
    """The particles after each of `steps` steps (one `fit` per step)."""
    model, layer = particle_model(
        optimizer, shape=(50,), curvature=curvature,
        initializer=keras.initializers.RandomNormal(seed=5))
    positions = []
    for _ in range(steps):
        run_steps(model, 1)
        positions.append(to_numpy(layer.w).copy())
    return np.array(positions)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_a_constant_schedule_takes_the_steps_of_its_float(sampler):
    by_float = trained(SAMPLERS[sampler](0.05))
    by_schedule = trained(SAMPLERS[sampler](constant(0.05)))
    for a, b in zip(by_float.weights, by_schedule.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6,
                                   atol=1e-6)


@pytest.mark.parametrize("sampler", sorted(PARTICLE_SAMPLERS))
def test_a_piecewise_schedule_is_noiseless_until_its_boundary(sampler):
    # PiecewiseConstantDecay holds values[0] for iterations <= boundary:
    # steps 0, 1, 2 at temperature 0, then 0.5.
    schedule = schedules.PiecewiseConstantDecay([2], [0.0, 0.5])
    assert [float(schedule(k)) for k in range(5)] == [0, 0, 0, 0.5, 0.5]
    cold = trajectory(PARTICLE_SAMPLERS[sampler](0.0), 6)
    warm = trajectory(PARTICLE_SAMPLERS[sampler](schedule), 6)
    np.testing.assert_allclose(warm[:3], cold[:3], rtol=1e-6, atol=1e-6)
    for step in range(3, 6):
        assert np.abs(warm[step] - cold[step]).max() > 1e-2, step


def test_the_scheduled_noise_is_the_floats_noise_from_the_boundary_on():
    # Without a force the overdamped particles add up their noise:
    # w_n = sum_k sqrt(2 h T_k) xi_k, and the noise is drawn at every step.
    schedule = schedules.PiecewiseConstantDecay([2], [0.0, 0.5])
    hot = trajectory(SAMPLERS["overdamped"](0.5), 7, curvature=0.0)
    warm = trajectory(SAMPLERS["overdamped"](schedule), 7, curvature=0.0)
    start = trajectory(SAMPLERS["overdamped"](0.0), 1, curvature=0.0)[0]
    np.testing.assert_allclose(warm[:3], np.broadcast_to(start, (3, 50)),
                               atol=1e-6)
    np.testing.assert_allclose(warm[3:] - start, hot[3:] - hot[2],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(keras.config.backend() != "jax",
                    reason="the jitted stateless step is JAX's train step")
def test_the_schedule_is_evaluated_in_the_jitted_step():
    import jax

    schedule = schedules.PiecewiseConstantDecay([2], [0.0, 0.5])
    model, layer = particle_model(OverdampedLangevin(0.1, temperature=schedule,
                                                     seed=0), shape=(50,))
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    grads = [np.zeros((50,), "float32")]
    traces = []

    @jax.jit
    def step(opt_vars, train_vars):
        traces.append(1)
        return optimizer.stateless_apply(opt_vars, grads, train_vars)

    train_vars = [v.value for v in model.trainable_variables]
    opt_vars = [v.value for v in optimizer.variables]
    positions = []
    for _ in range(5):
        train_vars, opt_vars = step(opt_vars, train_vars)
        positions.append(np.asarray(train_vars[0]))
    assert len(traces) == 1
    np.testing.assert_array_equal(positions[2], 0.0)
    increments = np.diff(positions, axis=0)
    for k in (2, 3):  # steps 3 and 4: sqrt(2 h T) = sqrt(0.1)
        assert np.std(increments[k]) == pytest.approx(math.sqrt(0.1),
                                                      rel=0.4)
    # model.fit (a jitted train step under JAX) follows the schedule too.
    fitted = trajectory(OverdampedLangevin(0.1, temperature=schedule,
                                           seed=0), 5, curvature=0.0)
    start = fitted[0]
    np.testing.assert_array_equal(fitted[:3], np.broadcast_to(start,
                                                              (3, 50)))
    assert np.abs(fitted[3] - start).max() > 1e-2


@pytest.mark.parametrize("optimizer", [
    lambda: OverdampedLangevin(
        0.1, temperature=schedules.PiecewiseConstantDecay([2], [0.0, 0.01]),
        seed=1),
    lambda: UnderdampedLangevin(
        0.2, temperature=schedules.ExponentialDecay(0.01, 3, 0.5), seed=2),
    lambda: OverdampedLangevin(
        CyclicalSchedule(0.1, 6, 0.5),
        temperature=CyclicalSchedule(0.1, 6, 0.5).temperature(0.01), seed=3)])
def test_config_and_saved_model_round_trips(optimizer, tmp_path):
    original = optimizer()
    config = original.get_config()
    assert isinstance(config["temperature"], dict)
    clone = type(original).from_config(config)
    assert type(clone.temperature) is type(original.temperature)
    assert clone.get_config() == config
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(original))
    assert restored.get_config() == config
    for k in range(8):
        assert float(restored.temperature(k)) == float(
            original.temperature(k))
    # A saved model trains on exactly as the uninterrupted one.
    x, y = data()
    model = trained(original)
    resumed = save_and_reload(model, tmp_path)
    assert resumed.optimizer.get_config() == model.optimizer.get_config()
    for model_ in (model, resumed):
        model_.fit(x, y, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.weights, resumed.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)


def test_a_float_temperature_stays_a_float():
    optimizer = OverdampedLangevin(0.1, temperature=np.float32(0.25))
    assert type(optimizer.temperature) is float
    assert optimizer.get_config()["temperature"] == 0.25


@pytest.mark.parametrize("temperature, error", [
    (-1.0, ValueError), (math.inf, ValueError), ("hot", TypeError),
    (lambda: 0.1, TypeError), (None, TypeError)])
@pytest.mark.parametrize("cls", [OverdampedLangevin, UnderdampedLangevin,
                                 PreconditionedLangevin])
def test_rejects_bad_temperatures(cls, temperature, error):
    with pytest.raises(error, match="`temperature`.*LearningRateSchedule"
                                    ".*temperature="):
        cls(0.1, temperature=temperature)


def cyclical_reference(alpha0, K, k):
    """Zhang et al. (2020), Eq. (1), with the paper's k - 1 = k here."""
    return alpha0 / 2 * (np.cos(np.pi * np.mod(k, K) / K) + 1)


@pytest.mark.parametrize("K", [1, 7, 10])
def test_cyclical_schedule_is_the_papers_cosine(K):
    schedule = CyclicalSchedule(0.3, K)
    steps = np.array([0, 1, 3, 6, 9, 10, 19, 20, 37, 1000])
    values = [float(schedule(int(k))) for k in steps]
    np.testing.assert_allclose(values, cyclical_reference(0.3, K, steps),
                               rtol=1e-6)
    assert float(schedule(0)) == pytest.approx(0.3)
    # Evaluated at a Keras integer variable, as in an optimizer.
    step = keras.Variable(23, dtype="int64" if keras.config.backend() !=
                          "jax" else "int32", trainable=False)
    assert float(schedule(step)) == pytest.approx(
        cyclical_reference(0.3, K, 23), rel=1e-6)


@pytest.mark.parametrize("K", [1, 3, 7, 10])
@pytest.mark.parametrize("beta", [0.0, 0.3, 0.5, 0.7, 0.94, 1.0])
def test_phases_follow_r_of_k(K, beta):
    schedule = CyclicalSchedule(0.1, K, exploration_fraction=beta)
    temperature = schedule.temperature(0.02)
    steps = np.arange(3 * K + 2)
    expected = np.mod(steps, K) / K >= beta  # r(k) >= beta: sampling
    np.testing.assert_array_equal(schedule.is_sampling(steps), expected)
    assert [schedule.is_sampling(int(k)) for k in steps] == list(expected)
    assert temperature.is_sampling(5) == schedule.is_sampling(5)
    np.testing.assert_array_equal(
        [float(temperature(int(k))) for k in steps],
        np.where(expected, np.float32(0.02), 0.0))


def test_cyclical_schedules_round_trip():
    schedule = CyclicalSchedule(0.2, 9, 0.7, name="c")
    clone = schedules.deserialize(schedules.serialize(schedule))
    assert type(clone) is CyclicalSchedule
    assert clone.get_config() == schedule.get_config()
    temperature = schedule.temperature(1e-3)
    clone = schedules.deserialize(schedules.serialize(temperature))
    assert type(clone) is CyclicalTemperature
    assert clone.get_config() == temperature.get_config()
    for k in range(20):
        assert float(clone(k)) == float(temperature(k))
        assert clone.is_sampling(k) == schedule.is_sampling(k)


@pytest.mark.parametrize("kwargs, name", [
    ({"initial_learning_rate": 0.0}, "initial_learning_rate"),
    ({"steps_per_cycle": 0}, "steps_per_cycle"),
    ({"steps_per_cycle": 2.5}, "steps_per_cycle"),
    ({"exploration_fraction": 1.5}, "exploration_fraction"),
    ({"exploration_fraction": -0.1}, "exploration_fraction")])
def test_cyclical_schedule_rejects_bad_arguments(kwargs, name):
    arguments = {"initial_learning_rate": 0.1, "steps_per_cycle": 10,
                 **kwargs}
    with pytest.raises((TypeError, ValueError), match=f"`{name}`.*{name}="):
        CyclicalSchedule(**arguments)
    with pytest.raises(ValueError, match="`temperature`"):
        CyclicalSchedule(0.1, 10).temperature(-1.0)
    with pytest.raises(TypeError, match="`schedule`"):
        CyclicalTemperature(constant(0.1), 0.1)
