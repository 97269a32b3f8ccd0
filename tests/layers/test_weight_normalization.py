"""WeightNormalization: the kernel's reparametrization, its gradients
against NumPy, the data-dependent initialization, training, saving and bad
input."""

import keras
import numpy as np
import pytest
from helpers import gradients
from helpers import save_and_reload
from helpers import to_numpy

from keras_constrained.layers import WeightNormalization
from keras_constrained.layers import initialize_from_data

# (wrapped layer, input shape, output-channel axis of its kernel)
LAYERS = {
    "dense": (lambda: keras.layers.Dense(4), (5, 3), -1),
    "conv1d": (lambda: keras.layers.Conv1D(4, 2), (5, 6, 3), -1),
    "conv2d": (lambda: keras.layers.Conv2D(4, 3, activation="relu"),
               (5, 6, 6, 2), -1),
    "conv2d_transpose": (lambda: keras.layers.Conv2DTranspose(4, 3),
                         (5, 4, 4, 2), -2),
}


def unit_norms(kernel, out_axis):
    axes = tuple(a for a in range(kernel.ndim) if a != out_axis % kernel.ndim)
    return np.sqrt(np.sum(kernel**2, axis=axes))


@pytest.mark.parametrize("name", LAYERS)
def test_starts_as_the_wrapped_layer_and_has_norm_g_per_unit(name):
    make, shape, out_axis = LAYERS[name]
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    wrapped = make()
    expected = to_numpy(wrapped(x))  # builds the plain layer
    layer = WeightNormalization(wrapped)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-5,
                               atol=1e-5)

    g = np.random.default_rng(1).uniform(0.5, 2.0, size=layer.g.shape)
    layer.g.assign(g)
    kernel = to_numpy(layer.normalized_kernel())
    np.testing.assert_allclose(unit_norms(kernel, out_axis), g, rtol=1e-5)
    v = to_numpy(wrapped.kernel)
    direction = kernel / np.expand_dims(g, tuple(
        a for a in range(v.ndim) if a != out_axis % v.ndim))
    np.testing.assert_allclose(
        direction, v / np.expand_dims(unit_norms(v, out_axis), tuple(
            a for a in range(v.ndim) if a != out_axis % v.ndim)),
        rtol=1e-5, atol=1e-6)


def test_gradients_match_numpy():
    """For y = x w + b with w = g v / ||v||:
    dL/dg = sum_in(dL/dw * v / ||v||) and
    dL/dv = g / ||v|| * (dL/dw - dL/dg * v / ||v||)."""
    rng = np.random.default_rng(2)
    layer = WeightNormalization(keras.layers.Dense(4))
    x = rng.normal(size=(6, 3)).astype("float32")
    layer.build(x.shape)
    layer.g.assign(rng.uniform(0.5, 2.0, size=4))
    r = keras.ops.convert_to_tensor(rng.normal(size=(6, 4)), "float32")
    kernel, bias = layer.layer.kernel, layer.layer.bias
    d_g, d_v, d_b = gradients(lambda: keras.ops.sum(layer(x) * r),
                              [layer.g, kernel, bias])

    r, v, g = to_numpy(r), to_numpy(kernel), to_numpy(layer.g)
    norm = np.linalg.norm(v, axis=0)
    d_w = x.T @ r
    expected_g = np.sum(d_w * v / norm, axis=0)
    np.testing.assert_allclose(d_g, expected_g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        d_v, g / norm * (d_w - expected_g * v / norm), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d_b, r.sum(axis=0), rtol=1e-5)
    # The gradient of v is orthogonal to v, unit by unit.
    np.testing.assert_allclose(np.sum(d_v * v, axis=0), 0.0, atol=1e-5)


@pytest.mark.parametrize("name", LAYERS)
def test_data_init_standardizes_the_pre_activations(name):
    make, shape, out_axis = LAYERS[name]
    x = np.random.default_rng(3).normal(2.0, 3.0, size=(64,) + shape[1:])
    x = x.astype("float32")
    layer = WeightNormalization(make())
    model = keras.Sequential([keras.Input(shape[1:]), layer])
    initialize_from_data(model, x)

    wrapped = layer.layer
    activation = wrapped.activation
    assert activation is make().activation  # restored after the init
    wrapped.activation = None
    kernel = wrapped.kernel
    kernel.assign(layer.normalized_kernel())  # the same function, unwrapped
    pre_activations = to_numpy(wrapped(x))
    wrapped.activation = activation
    channels = pre_activations.reshape(-1, pre_activations.shape[-1])
    np.testing.assert_allclose(channels.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(channels.std(axis=0), 1.0, rtol=1e-4)


def test_data_init_false_leaves_the_layer_alone():
    layer = WeightNormalization(keras.layers.Dense(3), data_init=False)
    model = keras.Sequential([keras.Input((2,)), layer])
    before = [to_numpy(w) for w in model.weights]
    initialize_from_data(model, np.ones((4, 2)))
    for b, w in zip(before, model.weights):
        np.testing.assert_array_equal(to_numpy(w), b)


def model_with_weight_norm():
    keras.utils.set_random_seed(4)
    return keras.Sequential([
        keras.Input((6, 6, 2)),
        WeightNormalization(keras.layers.Conv2D(3, 3, activation="relu")),
        keras.layers.Flatten(),
        WeightNormalization(keras.layers.Dense(
            3, kernel_regularizer=keras.regularizers.L2(1e-3)),
            data_init=False),
    ])


def test_fit_trains_g_and_v_and_saving_round_trips(tmp_path):
    model = model_with_weight_norm()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(32, 6, 6, 2)).astype("float32")
    y = rng.integers(0, 3, 32)
    initialize_from_data(model, x)
    model.compile(keras.optimizers.SGD(0.1), keras.losses.
                  SparseCategoricalCrossentropy(from_logits=True))
    assert len(model.losses) == 1  # the wrapped kernel's regularizer
    before = [to_numpy(w) for w in model.trainable_weights]
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    names = [w.path for w in model.trainable_weights]
    assert len(names) == 6  # g, v and bias, twice
    for name, b, w in zip(names, before, model.trainable_weights):
        assert not np.allclose(to_numpy(w), b), name

    loaded = save_and_reload(model, tmp_path)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        "WeightNormalization", "Flatten", "WeightNormalization"]
    assert loaded.layers[2].data_init is False
    assert loaded.layers[2].layer.get_config() == \
        model.layers[2].layer.get_config()
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))


@pytest.mark.parametrize("layer", [
    keras.layers.Flatten(), keras.layers.BatchNormalization(),
    keras.layers.Embedding(4, 2), "dense"])
def test_layers_without_a_supported_kernel_raise(layer):
    with pytest.raises(TypeError, match="`layer` must be a Dense, Conv"):
        WeightNormalization(layer)


def test_a_lazily_built_layer_starts_with_g_the_norm_of_v():
    """In a Sequential without Input, built by `fit` (symbolically), `g`
    is `||v||` as in an eager build, so the wrapped function is unchanged;
    fit and predict run."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(8, 6, 6, 2)).astype("float32")
    model = keras.Sequential([
        WeightNormalization(keras.layers.Conv2D(3, 3)),
        keras.layers.Flatten(),
        WeightNormalization(keras.layers.Dense(2), data_init=False),
    ])
    model.compile(keras.optimizers.SGD(0.0), "mse")
    model.fit(x, np.zeros((8, 2)), batch_size=4, verbose=0)  # 2 steps
    for layer in (model.layers[0], model.layers[2]):
        np.testing.assert_allclose(
            to_numpy(layer.g), unit_norms(to_numpy(layer.layer.kernel), -1),
            rtol=1e-6)
    conv = model.layers[0]
    np.testing.assert_allclose(
        to_numpy(conv(x)), to_numpy(keras.ops.conv(
            x, conv.layer.kernel) + conv.layer.bias), rtol=1e-5, atol=1e-5)
    assert model.predict(x, verbose=0).shape == (8, 2)


class WeightNormalized(keras.Model):
    """A subclassed model: WeightNormalization(Dense) with ReLU."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = WeightNormalization(keras.layers.Dense(
            4, activation="relu"))
        self.out = WeightNormalization(keras.layers.Dense(2))

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def test_data_init_in_a_subclassed_model():
    model = WeightNormalized()
    x = np.random.default_rng(7).normal(1.0, 2.0, size=(128, 3))
    x = x.astype("float32")
    initialize_from_data(model, x)
    hidden = model.hidden.layer
    pre_activations = (x @ to_numpy(model.hidden.normalized_kernel())
                       + to_numpy(hidden.bias))
    np.testing.assert_allclose(pre_activations.mean(axis=0), 0.0,
                               atol=1e-4)
    np.testing.assert_allclose(pre_activations.std(axis=0), 1.0, rtol=1e-4)
    # The output layer was initialized after the hidden one.
    out = to_numpy(model(x))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-4)
