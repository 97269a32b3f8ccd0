"""The constraints as layer arguments with stock Keras optimizers."""

import keras
import numpy as np
import pytest
from helpers import save_and_reload
from helpers import to_numpy

from keras_constrained import constraints

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def ring(n):
    eye = np.eye(n)
    return eye + np.roll(eye, 1, axis=0) + np.roll(eye, -1, axis=0)


def constrained_model():
    """A small CNN + MLP with every constraint, tall and wide, Dense and Conv."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(
        6, 3, activation="tanh", name="conv_orthogonal_tall",
        kernel_initializer="orthogonal",
        kernel_constraint=constraints.Orthogonal())(inputs)
    x = keras.layers.Conv2D(
        16, 1, activation="tanh", name="conv_orthogonal_wide",
        kernel_constraint=constraints.Orthogonal())(x)
    x = keras.layers.Conv2D(
        4, 3, activation="tanh", name="conv_sphere",
        kernel_constraint=constraints.Sphere(1.5))(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(
        24, activation="tanh", name="dense_magnitude",
        kernel_initializer=keras.initializers.RandomUniform(-0.1, 0.1),
        kernel_constraint=constraints.MagnitudeBound(0.1))(x)
    x = keras.layers.Dense(
        6, activation="tanh", name="dense_orthogonal_tall",
        kernel_constraint=constraints.Orthogonal())(x)
    x = keras.layers.Dense(
        6, activation="tanh", name="dense_sparse",
        kernel_constraint=constraints.SparsityMask(ring(6)))(x)
    outputs = keras.layers.Dense(
        3, name="dense_sphere",
        kernel_constraint=constraints.Sphere(1.0))(x)
    return keras.Model(inputs, outputs)


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 1)).astype("float32")
    return x, rng.integers(0, 3, n)


def constrained_kernels(model):
    return [(layer.name, layer.kernel) for layer in model.layers
            if getattr(layer, "kernel", None) is not None
            and layer.kernel.constraint is not None]


@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.SGD(0.1, momentum=0.9),
    lambda: keras.optimizers.Adam(1e-2)])
def test_training_keeps_every_kernel_on_its_set(optimizer):
    model = constrained_model()
    model.compile(optimizer(), LOSS)
    x, y = data(500 * 8)
    before = [to_numpy(k) for _, k in constrained_kernels(model)]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # 500 steps
    assert model.optimizer.iterations.numpy() == 500
    for (name, kernel), start in zip(constrained_kernels(model), before):
        assert float(kernel.constraint.violation(kernel)) <= 1e-5, name
        assert not np.allclose(to_numpy(kernel), start), name  # it trained


@pytest.mark.parametrize("layer_name", [
    "conv_orthogonal_tall", "conv_sphere", "dense_magnitude",
    "dense_sparse"])
def test_saved_models_restore_their_constraints(layer_name, tmp_path):
    model = constrained_model()
    model.compile(keras.optimizers.SGD(0.05), LOSS)
    x, y = data(64)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    restored = save_and_reload(model, tmp_path)
    original = model.get_layer(layer_name).kernel.constraint
    loaded = restored.get_layer(layer_name).kernel.constraint
    assert type(loaded) is type(original)
    assert loaded.get_config() == original.get_config()
    np.testing.assert_allclose(to_numpy(restored.predict(x, verbose=0)),
                               to_numpy(model.predict(x, verbose=0)),
                               atol=1e-6)
    # Training the restored model keeps projecting.
    restored.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for name, kernel in constrained_kernels(restored):
        assert float(kernel.constraint.violation(kernel)) <= 1e-5, name
