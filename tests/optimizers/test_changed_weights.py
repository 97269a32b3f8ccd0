"""Weights changed outside the optimizer are where its next step starts.

The manifold optimizers hold `MagnitudeBound`'s weights as arc lengths on
their circles; weights assigned, set or loaded by the user after training
began must not be reverted to what those arc lengths stood for.
"""

import keras
import numpy as np
import pytest
from helpers import to_numpy

from keras_constrained import constraints
from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import RiemannianAdam
from keras_constrained.optimizers import RiemannianSGD
from keras_constrained.optimizers import UnderdampedLangevin

RADIUS = 0.5
OPTIMIZERS = {
    "overdamped": lambda: OverdampedLangevin(0.05, temperature=0.0),
    "underdamped": lambda: UnderdampedLangevin(0.3, temperature=0.0),
    # Without momentum: its velocity holds steps of the old learning rate.
    "riemannian_sgd": lambda: RiemannianSGD(0.05),
    "riemannian_adam": lambda: RiemannianAdam(0.05),
}
SMALL_STEP = 1e-4  # the learning rate of the step after the change
# How far that step may move a weight: a few learning rates (Adam's step
# is about one per weight). Reverted weights were off by up to 0.4.
TOLERANCE = 1e-3


def trained_model(name, steps=6):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype("float32")
    y = rng.normal(size=(32, 7)).astype("float32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(
        7, use_bias=False, name="box",
        kernel_initializer=keras.initializers.RandomUniform(-RADIUS, RADIUS),
        kernel_constraint=constraints.MagnitudeBound(RADIUS))])
    model.compile(optimizer=OPTIMIZERS[name](), loss="mse")
    model.fit(x, y, batch_size=8, epochs=steps // 4, verbose=0)
    return model, x, y


def one_small_step(model, x, y):
    model.optimizer.learning_rate.assign(SMALL_STEP)
    model.train_on_batch(x[:8], y[:8])


def assert_step_started_from(model, weights):
    kernel = to_numpy(model.get_layer("box").kernel)
    assert np.max(np.abs(kernel - weights)) < TOLERANCE


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("how", ["assign", "set_weights"])
def test_assigned_weights_are_kept(name, how):
    model, x, y = trained_model(name)
    kernel = model.get_layer("box").kernel
    new = np.full(kernel.shape, 0.1, "float32")
    if how == "assign":
        kernel.assign(new)
    else:
        model.set_weights([new])
    one_small_step(model, x, y)
    assert_step_started_from(model, new)


# The fresh model's optimizer is not built: Keras skips the file's state.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_checkpointed_weights_loaded_mid_training_are_kept(name, tmp_path):
    """`ModelCheckpoint(save_weights_only=True)` during `fit`, then
    `load_weights` of an earlier epoch into the model that trained on."""
    model, x, y = trained_model(name, steps=4)
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "epoch_{epoch}.weights.h5"), save_weights_only=True)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0,
              callbacks=[checkpoint])
    # A fresh model of the same architecture reads the checkpoint: the
    # weights of epoch 1, with no optimizer state of its own.
    saved, _, _ = trained_model(name, steps=0)
    saved.load_weights(str(tmp_path / "epoch_1.weights.h5"))
    epoch_1 = to_numpy(saved.get_layer("box").kernel)
    assert np.max(np.abs(epoch_1 - to_numpy(model.get_layer("box").kernel))
                  ) > 10 * TOLERANCE  # training moved on since
    model.get_layer("box").kernel.assign(epoch_1)
    one_small_step(model, x, y)
    assert_step_started_from(model, epoch_1)
    # And loaded in place, with whatever optimizer state the file holds.
    model.load_weights(str(tmp_path / "epoch_1.weights.h5"))
    loaded = to_numpy(model.get_layer("box").kernel)
    one_small_step(model, x, y)
    assert_step_started_from(model, loaded)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_unchanged_weights_keep_their_side_of_the_circle(name):
    """Only the weights that changed are lifted again: an arc length past
    a quarter turn (the circle's other side, `xi < 0`) stays there, where
    lifting its weight would bring it back to `xi >= 0`."""
    model, x, y = trained_model(name)
    kernel = model.get_layer("box").kernel
    arcs = model.optimizer.variable_state(kernel).coordinates
    far_side = 0.9 * np.pi * RADIUS  # w = r sin(0.9 pi) > 0, xi < 0
    q = np.full(kernel.shape, 0.3 * RADIUS, "float32")
    q[0, 0] = far_side
    arcs.assign(q)
    kernel.assign(RADIUS * np.sin(q / RADIUS))
    # One weight changed by the user, the others as the arcs say.
    changed = to_numpy(kernel).copy()
    changed[1, 1] = 0.2
    kernel.assign(changed)
    model.optimizer.learning_rate.assign(0.0)
    model.train_on_batch(x[:8], y[:8])
    after = to_numpy(arcs)
    np.testing.assert_allclose(after[0, 0], far_side, rtol=1e-5)
    np.testing.assert_allclose(after[1, 1],
                               RADIUS * np.arcsin(0.2 / RADIUS), rtol=1e-5)
    np.testing.assert_allclose(after[2:], q[2:], rtol=1e-5)
    assert_step_started_from(model, changed)
