"""UnderdampedLangevin's SGNHT thermostat (`thermostat_mass`): it absorbs
the noise of stochastic gradients, counts the degrees of freedom of each
set, follows scheduled temperatures and saves its state."""

import math

import keras
import numpy as np
import pytest
from helpers import WeightRecorder
from helpers import particle_model
from helpers import run_steps
from helpers import save_and_reload
from helpers import to_numpy

from keras_constrained import constraints
from keras_constrained.optimizers import UnderdampedLangevin


class NoisyParticles(keras.layers.Layer):
    """Particles in `k/2 * sum(w**2)` whose gradient carries the noise of
    its input: the loss adds `sum(w * x)` for the batch's row `x`, as a
    mini-batch gradient adds its error to the full one."""

    def __init__(self, size, curvature, **kwargs):
        super().__init__(**kwargs)
        self.curvature = curvature
        self.w = self.add_weight(shape=(size,), initializer="zeros",
                                 name="w")

    def call(self, x):
        self.add_loss(keras.ops.sum(
            0.5 * self.curvature * keras.ops.square(self.w) + self.w * x[0]))
        return x


def noisy_trajectory(optimizer, size, curvature, noise, steps):
    """Every 5th position over `steps` steps with gradient noise of
    standard deviation `noise` per coordinate, and the final friction."""
    inputs = keras.Input((size,))
    layer = NoisyParticles(size, curvature)
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=optimizer)
    x = noise * np.random.default_rng(0).normal(size=(steps, size))
    recorder = WeightRecorder()
    model.fit(x.astype("float32"), batch_size=1, verbose=0, shuffle=False,
              callbacks=[recorder])
    slots = optimizer.variable_state(layer.w).slots
    xi = optimizer.friction + float(to_numpy(slots.get("thermostat", 0.0)))
    return np.array([w[0] for w in recorder.weights[::5]]), xi


@pytest.mark.parametrize("scheme", ["BAOAB", "OBA"])
def test_the_thermostat_absorbs_gradient_noise(scheme):
    # Gradient noise of variance s^2 kicks p by h * s per step; against the
    # friction gamma it heats the particles by h s^2 / (2 gamma) = T here,
    # doubling their variance. The thermostat raises the friction by
    # h s^2 / (2 T) = gamma instead and keeps the variance at T / k.
    h, gamma, temperature, k = 0.1, 1.0, 0.01, 1.0
    noise = math.sqrt(2 * temperature * gamma / h)
    common = dict(friction=gamma, temperature=temperature, scheme=scheme,
                  seed=1)
    plain, _ = noisy_trajectory(UnderdampedLangevin(h, **common), 400, k,
                                noise, 1500)
    held, xi = noisy_trajectory(
        UnderdampedLangevin(h, thermostat_mass=1.0, **common), 400, k,
        noise, 1500)
    # 260 recorded steps x 400 particles, correlated over ~ 2-4 records.
    assert np.var(plain[40:]) / (temperature / k) > 1.7
    assert np.var(held[40:]) / (temperature / k) == pytest.approx(
        1.0, abs=0.06)
    assert xi == pytest.approx(2 * gamma, rel=0.1)


# (constraint, kernel shape, initializer): sets whose dimension is less
# than their number of weights.
SETS = {
    "sphere": (constraints.Sphere(), (3, 800), "random_normal"),
    "orthogonal": (constraints.Orthogonal(), (48, 32), "orthogonal"),
    "sparsity-mask": (constraints.SparsityMask(np.tri(60, 40)), (60, 40),
                      "zeros"),
}


@pytest.mark.parametrize("name", sorted(SETS))
def test_the_kinetic_energy_is_temperature_per_dimension(name):
    # Without a thermostat the momentum settles at T per degree of freedom
    # of the set: `dimension` counts what the dynamics do. With it (and no
    # gradient noise) the friction stays at `friction`; a miscounted
    # dimension would move it by the ratio of the counts (1.3 to 1.5 here).
    constraint, shape, initializer = SETS[name]
    temperature = 0.01
    dimension = constraint.dimension(shape)
    for mass in (None, 1.0):
        optimizer = UnderdampedLangevin(0.1, temperature=temperature,
                                        thermostat_mass=mass, seed=2)
        model, layer = particle_model(optimizer, shape=shape,
                                      constraint=constraint,
                                      initializer=initializer)
        run_steps(model, 600)
        slots = optimizer.variable_state(layer.w).slots
        p = to_numpy(slots["momentum"]).astype("float64")
        assert float(constraint.violation(layer.w)) <= 1e-5
        # One snapshot of >= 1500 degrees of freedom: 4% standard error.
        assert np.sum(p * p) / (dimension * temperature) == pytest.approx(
            1.0, abs=0.15), mass
        if mass is not None:
            # xi fluctuates with variance 1 / (mass * dimension): 0.03.
            assert 1.0 + float(to_numpy(slots["thermostat"])) == (
                pytest.approx(1.0, abs=0.15))


def test_a_scheduled_temperature_of_zero_holds_the_friction():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [4], [0.0, 0.01])
    optimizer = UnderdampedLangevin(0.1, temperature=schedule,
                                    thermostat_mass=1.0, seed=3)
    model, layer = particle_model(
        optimizer, shape=(50,), curvature=1.0,
        initializer=keras.initializers.RandomNormal(seed=4))
    optimizer.build(model.trainable_variables)
    thermostat = optimizer.variable_state(layer.w).slots["thermostat"]
    run_steps(model, 5)  # steps 0 to 4: T = 0
    assert float(to_numpy(thermostat)) == 0.0
    run_steps(model, 1)
    assert float(to_numpy(thermostat)) != 0.0


def test_a_float_temperature_of_zero_is_heavy_ball_momentum():
    def trained(**kwargs):
        model, layer = particle_model(
            UnderdampedLangevin(0.1, **kwargs), shape=(20,), curvature=2.0,
            initializer=keras.initializers.RandomNormal(seed=5))
        run_steps(model, 10)
        return to_numpy(layer.w)

    np.testing.assert_array_equal(trained(thermostat_mass=0.5), trained())


def test_the_thermostat_is_one_scalar_per_variable_and_saved(tmp_path):
    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(4, activation="tanh", name="stiefel",
                           kernel_initializer="orthogonal",
                           kernel_constraint=constraints.Orthogonal()),
        keras.layers.Dense(3, name="free")])
    model.compile(UnderdampedLangevin(0.2, temperature=1e-3,
                                      thermostat_mass=2.0, seed=6),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 5)).astype("float32"), rng.integers(0, 3, 32)
    model.fit(x, y, batch_size=8, shuffle=False, verbose=0)
    for v in model.trainable_variables:
        slot = model.optimizer.variable_state(v).slots["thermostat"]
        assert tuple(slot.shape) == ()
        assert float(to_numpy(slot)) != 0.0
    resumed = save_and_reload(model, tmp_path)
    assert resumed.optimizer.get_config() == model.optimizer.get_config()
    assert resumed.optimizer.thermostat_mass == 2.0
    for trained in (model, resumed):
        trained.fit(x, y, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.weights + model.optimizer.variables,
                    resumed.weights + resumed.optimizer.variables):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)


@pytest.mark.parametrize("kwargs, name", [
    ({"thermostat_mass": 0.0}, "thermostat_mass"),
    ({"thermostat_mass": -1.0}, "thermostat_mass"),
    ({"thermostat_mass": math.nan}, "thermostat_mass"),
    ({"thermostat_mass": 1.0, "friction": math.inf}, "friction")])
def test_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`.*{name}="):
        UnderdampedLangevin(**kwargs)
