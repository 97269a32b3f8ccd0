"""`from_sgd` builds the Langevin optimizer that takes SGD's steps, and
`posterior_temperature` gives the temperature of the Bayesian posterior."""

import json
import math

import keras
import numpy as np
import pytest
from helpers import particle_model
from helpers import run_steps
from helpers import to_numpy
from test_equivalences import assert_same_trajectory
from test_equivalences import train_side_by_side

from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import UnderdampedLangevin
from keras_constrained.optimizers import posterior_temperature


@pytest.mark.parametrize("scheme", ["BAOAB", "OBA"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_underdamped_from_sgd_takes_sgds_steps(scheme, momentum):
    assert_same_trajectory(train_side_by_side(
        UnderdampedLangevin.from_sgd(0.05, momentum=momentum, scheme=scheme),
        keras.optimizers.SGD(0.05, momentum=momentum)))


def test_overdamped_from_sgd_takes_sgds_steps():
    assert_same_trajectory(train_side_by_side(
        OverdampedLangevin.from_sgd(0.1), keras.optimizers.SGD(0.1)))


def test_from_sgd_translates_weight_decay_and_keeps_clipping():
    # Keras scales decoupled weight decay by the learning rate, which is
    # h, not SGD's rate, for the underdamped optimizer.
    sgd = dict(weight_decay=0.5, clipnorm=0.5)
    assert_same_trajectory(train_side_by_side(
        UnderdampedLangevin.from_sgd(0.05, momentum=0.8, **sgd),
        keras.optimizers.SGD(0.05, momentum=0.8, **sgd)))


def test_the_mapping_is_the_documented_one():
    lr, mu = 0.05, 0.9
    baoab = UnderdampedLangevin.from_sgd(lr, momentum=mu)
    h = math.sqrt(2 * lr / (1 + mu))
    assert float(baoab.learning_rate) == pytest.approx(h, rel=1e-7)
    assert baoab.friction == pytest.approx(-math.log(mu) / h, rel=1e-12)
    oba = UnderdampedLangevin.from_sgd(lr, momentum=mu, scheme="OBA")
    assert float(oba.learning_rate) == pytest.approx(math.sqrt(lr), rel=1e-7)
    assert UnderdampedLangevin.from_sgd(lr).friction == math.inf


def test_momentum_zero_samples_with_infinite_friction():
    # With the momentum redrawn every step, BAOAB is the Leimkuhler-
    # Matthews method; like BAOAB at any friction, its position marginal is
    # exact for a Gaussian: variance T / k at any stable step.
    temperature, k, n = 0.5, 2.0, 20000
    model, layer = particle_model(
        UnderdampedLangevin.from_sgd(0.02, temperature=temperature, seed=3),
        shape=(n,), curvature=k)
    run_steps(model, 300)
    w = to_numpy(layer.w).astype("float64")
    # Relative standard error of the variance of n normals: sqrt(2 / n).
    assert np.var(w) == pytest.approx(temperature / k, rel=0.04)


@pytest.mark.parametrize("optimizer", [
    lambda: UnderdampedLangevin.from_sgd(0.05, momentum=0.9,
                                         temperature=1e-4, seed=1,
                                         weight_decay=0.01),
    lambda: UnderdampedLangevin.from_sgd(0.05, scheme="OBA"),
    lambda: OverdampedLangevin.from_sgd(0.05, temperature=1e-4,
                                        clipnorm=1.0),
])
def test_the_result_round_trips_as_an_ordinary_optimizer(optimizer):
    optimizer = optimizer()
    config = optimizer.get_config()
    assert type(optimizer).from_config(config).get_config() == config
    # Through JSON, as in a saved model (infinite friction included).
    restored = keras.optimizers.deserialize(json.loads(json.dumps(
        keras.optimizers.serialize(optimizer))))
    assert type(restored) is type(optimizer)
    assert restored.get_config() == config


@pytest.mark.parametrize("build, kwargs, name", [
    (UnderdampedLangevin.from_sgd, {"learning_rate": 0.0}, "learning_rate"),
    (UnderdampedLangevin.from_sgd, {"learning_rate": -0.1}, "learning_rate"),
    (UnderdampedLangevin.from_sgd, {"learning_rate": math.inf},
     "learning_rate"),
    (UnderdampedLangevin.from_sgd, {"learning_rate": "0.1"}, "learning_rate"),
    (UnderdampedLangevin.from_sgd,
     {"learning_rate": keras.optimizers.schedules.ExponentialDecay(
         0.1, 10, 0.5)}, "learning_rate"),
    (UnderdampedLangevin.from_sgd, {"momentum": -0.1}, "momentum"),
    (UnderdampedLangevin.from_sgd, {"momentum": 1.0}, "momentum"),
    (UnderdampedLangevin.from_sgd, {"momentum": None}, "momentum"),
    (UnderdampedLangevin.from_sgd, {"momentum": True}, "momentum"),
    (UnderdampedLangevin.from_sgd, {"weight_decay": "0.1"}, "weight_decay"),
    (UnderdampedLangevin.from_sgd, {"temperature": -1.0}, "temperature"),
    (UnderdampedLangevin.from_sgd, {"scheme": "ABO"}, "scheme"),
    (OverdampedLangevin.from_sgd, {"learning_rate": 0.0}, "learning_rate"),
    (OverdampedLangevin.from_sgd, {"learning_rate": True}, "learning_rate"),
    (OverdampedLangevin.from_sgd, {"temperature": "hot"}, "temperature"),
])
def test_from_sgd_rejects_bad_arguments(build, kwargs, name):
    kwargs = {"learning_rate": 0.1, **kwargs}
    with pytest.raises((TypeError, ValueError), match=f"`{name}`.*{name}="):
        build(**kwargs)


def test_posterior_temperature_values():
    assert posterior_temperature(10_000) == 1e-4
    assert posterior_temperature(10_000, "mean") == 1e-4
    # A minibatch sum of 100 examples is 100 times the mean.
    assert posterior_temperature(10_000, "sum", batch_size=100) == 0.01
    assert posterior_temperature(500, "sum", batch_size=500) == 1.0


@pytest.mark.parametrize("kwargs, name", [
    ({"num_examples": 0}, "num_examples"),
    ({"num_examples": 10.0}, "num_examples"),
    ({"num_examples": True}, "num_examples"),
    ({"loss_reduction": "none"}, "loss_reduction"),
    ({"loss_reduction": "sum"}, "batch_size"),
    ({"loss_reduction": "sum", "batch_size": 0}, "batch_size"),
    ({"loss_reduction": "sum", "batch_size": 200}, "batch_size"),
])
def test_posterior_temperature_rejects_bad_arguments(kwargs, name):
    kwargs = {"num_examples": 100, **kwargs}
    with pytest.raises((TypeError, ValueError), match=f"`{name}`.*{name}="):
        posterior_temperature(**kwargs)
