"""At temperature 0 without constraints the Langevin optimizers are SGD."""

import math

import keras
import numpy as np
import pytest
from helpers import to_numpy

from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import UnderdampedLangevin

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def mlp():
    # Softmax regression: convex, so float32 rounding differences between
    # two exact equivalents shrink instead of growing along the trajectory.
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 6)).astype("float32"),
            rng.integers(0, 3, n))


def train_side_by_side(ours, reference, steps=12, batch=8, **compile_kwargs):
    """Same initial weights and batches; returns weights after every step."""
    x, y = data(steps * batch)
    models = [mlp(), mlp()]
    models[1].set_weights(models[0].get_weights())
    for model, optimizer in zip(models, (ours, reference)):
        model.compile(optimizer, LOSS,
                      **compile_kwargs)
    history = []
    for i in range(steps):
        xb, yb = x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
        for model in models:
            model.train_on_batch(xb, yb)
        history.append([[to_numpy(w) for w in m.weights] for m in models])
    return history


def assert_same_trajectory(history):
    # Equal up to float32 rounding: the two compute the same update with
    # operations in another order (torch's SGD is a fused foreach kernel).
    for step, (mine, theirs) in enumerate(history):
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5,
                                       err_msg=f"step {step}")


def test_overdamped_at_zero_temperature_is_sgd():
    assert_same_trajectory(train_side_by_side(
        OverdampedLangevin(0.1), keras.optimizers.SGD(0.1)))


@pytest.mark.parametrize("scheme, sgd_learning_rate", [
    ("BAOAB", lambda h, mu: h * h * (1 + mu) / 2),
    ("OBA", lambda h, mu: h * h)])
def test_underdamped_at_zero_temperature_is_heavy_ball(scheme,
                                                       sgd_learning_rate):
    h, gamma = 0.2, 2.0
    mu = math.exp(-gamma * h)
    assert_same_trajectory(train_side_by_side(
        UnderdampedLangevin(h, friction=gamma, scheme=scheme),
        keras.optimizers.SGD(sgd_learning_rate(h, mu), momentum=mu)))


def test_schedules_and_clipping_act_as_for_sgd():
    def schedule():
        return keras.optimizers.schedules.ExponentialDecay(0.2, 3, 0.5)

    assert_same_trajectory(train_side_by_side(
        OverdampedLangevin(schedule(), clipnorm=0.1),
        keras.optimizers.SGD(schedule(), clipnorm=0.1)))


def test_weight_decay_acts_as_for_sgd_on_unconstrained_variables():
    assert_same_trajectory(train_side_by_side(
        OverdampedLangevin(0.1, weight_decay=0.05),
        keras.optimizers.SGD(0.1, weight_decay=0.05)))


def test_gradient_accumulation_equals_the_large_batch_step():
    x, y = data(64)
    small, large = mlp(), mlp()
    large.set_weights(small.get_weights())
    small.compile(UnderdampedLangevin(0.2, gradient_accumulation_steps=4),
                  LOSS)
    large.compile(UnderdampedLangevin(0.2), LOSS)
    small.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    large.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert int(small.optimizer.iterations) == int(large.optimizer.iterations)
    for a, b in zip(small.weights, large.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-4,
                                   atol=1e-5)
