"""BatchlessNormalization: its forward pass, loss and stop-gradients against
NumPy, batch independence under gradient accumulation, initialization,
migration from BatchNormalization, the `bln_nll` metric, serialization and
bad input."""

import keras
import numpy as np
import pytest
from helpers import gradients
from helpers import save_and_reload
from helpers import to_numpy

from keras_constrained.layers import BatchlessNormalization
from keras_constrained.layers import BatchlessSequential
from keras_constrained.layers import initialize_from_data
from keras_constrained.layers import migrate_batch_normalization

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
PARAMETRIZATIONS = ["log", "abs", "inv"]


def numpy_std_weight(parametrization, sigma, epsilon):
    return {"log": np.log(sigma), "abs": sigma - epsilon,
            "inv": 1 / sigma - epsilon}[parametrization]


def layer_with_statistics(parametrization, shape, axis=-1, seed=0, **kwargs):
    """A built layer with random mu, sigma, gamma, beta; returns it and them
    in broadcastable form."""
    layer = BatchlessNormalization(axis=axis,
                                   std_parametrization=parametrization,
                                   **kwargs)
    layer.build(shape)
    rng = np.random.default_rng(seed)
    param_shape = layer.mean.shape
    mu = rng.normal(size=param_shape)
    sigma = rng.uniform(0.5, 2.0, size=param_shape)
    gamma = rng.uniform(0.5, 1.5, size=param_shape)
    beta = rng.normal(size=param_shape)
    layer.set_statistics(mu, sigma)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    broadcast = [shape[a] if a in layer._axes else 1
                 for a in range(len(shape))]
    return layer, [p.reshape(broadcast) for p in (mu, sigma, gamma, beta)]


@pytest.mark.parametrize("parametrization", PARAMETRIZATIONS)
def test_statistics_are_held_in_the_parametrization(parametrization):
    layer, (mu, sigma, _, _) = layer_with_statistics(parametrization,
                                                     (None, 3), epsilon=1e-3)
    np.testing.assert_allclose(
        to_numpy(layer.std),
        numpy_std_weight(parametrization, sigma.ravel(), 1e-3), rtol=1e-6)
    inverse_std, log_std = layer.inverse_and_log_std()
    np.testing.assert_allclose(to_numpy(inverse_std), 1 / sigma.ravel(),
                               rtol=1e-6)
    np.testing.assert_allclose(to_numpy(log_std), np.log(sigma.ravel()),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("parametrization", PARAMETRIZATIONS)
@pytest.mark.parametrize("gauge", [True, False])
@pytest.mark.parametrize("shape, axis", [((7, 3), -1), ((5, 4, 3, 2), [1, 3])])
def test_output_and_loss_equal_the_formulas(parametrization, gauge, shape,
                                            axis):
    layer, (mu, sigma, gamma, beta) = layer_with_statistics(
        parametrization, shape, axis, gauge=gauge, loss_weight=0.5)
    x = np.random.default_rng(1).normal(2.0, 3.0, size=shape)
    x = x.astype("float32")
    expected_nll = (np.mean(np.log(sigma))
                    + 0.5 * np.mean(((x - mu) / sigma) ** 2))
    if gauge:
        expected_nll -= np.mean(np.log(sigma)) + 0.5
    expected_y = gamma * (x - mu) / sigma + beta

    y = layer(x, training=True)
    np.testing.assert_allclose(to_numpy(y), expected_y, rtol=1e-5, atol=1e-5)
    (loss,) = layer.losses
    np.testing.assert_allclose(to_numpy(loss), 0.5 * expected_nll,
                               rtol=1e-5, atol=1e-6)
    y_inference = layer(x, training=False)
    assert not layer.losses  # the NLL is a training loss only
    np.testing.assert_array_equal(to_numpy(y_inference), to_numpy(y))


def numpy_nll_gradients(parametrization, x, mu, sigma, epsilon):
    """d NLL / d (mu, std weight) for per-feature statistics of a 2-D x."""
    n, c = x.shape
    d_mu = -np.sum(x - mu, axis=0) / sigma**2 / (n * c)
    sum_sq = np.sum((x - mu) ** 2, axis=0) / (n * c)
    if parametrization == "log":
        d_std = 1 / c - sum_sq / sigma**2
    elif parametrization == "abs":
        d_std = 1 / (c * sigma) - sum_sq / sigma**3
    else:
        u = 1 / sigma
        d_std = -1 / (c * u) + sum_sq * u
    return d_mu.ravel(), d_std.ravel()


@pytest.mark.parametrize("parametrization", PARAMETRIZATIONS)
def test_stop_gradients(parametrization):
    """The task loss does not reach mu and sigma, the NLL does not reach
    the activations, and both gradients equal their formulas."""
    shape = (6, 3)
    layer, (mu, sigma, gamma, _) = layer_with_statistics(
        parametrization, shape, epsilon=1e-3)
    rng = np.random.default_rng(2)
    x = keras.Variable(rng.normal(1.0, 2.0, size=shape), dtype="float32")
    r = rng.normal(size=shape).astype("float32")
    r_tensor = keras.ops.convert_to_tensor(r)
    variables = [layer.mean, layer.std, x, layer.gamma]

    def task_loss():
        return keras.ops.sum(layer(x, training=True) * r_tensor)

    def nll():
        layer(x, training=True)
        return layer.losses[0]

    d_mu, d_std, d_x, d_gamma = gradients(task_loss, variables)
    np.testing.assert_array_equal(d_mu, 0.0)
    np.testing.assert_array_equal(d_std, 0.0)
    np.testing.assert_allclose(d_x, gamma / sigma * r, rtol=1e-5)
    x_np = to_numpy(x)
    np.testing.assert_allclose(d_gamma.ravel(),
                               np.sum(r * (x_np - mu) / sigma, axis=0),
                               rtol=1e-4)

    d_mu, d_std, d_x, d_gamma = gradients(nll, variables)
    np.testing.assert_array_equal(d_x, 0.0)
    np.testing.assert_array_equal(d_gamma, 0.0)
    expected_mu, expected_std = numpy_nll_gradients(
        parametrization, x_np, mu, sigma, 1e-3)
    np.testing.assert_allclose(d_mu, expected_mu, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(d_std, expected_std, rtol=1e-4, atol=1e-7)


def cnn(normalization, model_class=keras.Sequential):
    keras.utils.set_random_seed(7)
    return model_class([
        keras.Input((6, 6, 2)),
        keras.layers.Conv2D(3, 3, activation="tanh"),
        normalization(),
        keras.layers.Flatten(),
        keras.layers.Dense(5, activation="tanh"),
        normalization(),
        keras.layers.Dense(3),
    ])


def trained_weights(normalization, batch_size, accumulation, x, y,
                    model_class=keras.Sequential):
    model = cnn(normalization, model_class)
    model.compile(keras.optimizers.SGD(
        0.2, gradient_accumulation_steps=accumulation), LOSS)
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False,
              verbose=0)
    return [to_numpy(w) for w in model.weights]


@pytest.mark.parametrize("normalization, equal", [
    (lambda: BatchlessNormalization(init_mean=0.3, init_std=0.5), True),
    (lambda: BatchlessNormalization(std_parametrization="inv"), True),
    (keras.layers.BatchNormalization, False)])
def test_micro_batches_with_accumulation_equal_the_whole_batch(
        normalization, equal):
    """Batch 4 for 3 SGD steps == batch 1 with gradient_accumulation_steps=4
    for batchless normalization; not for batch normalization."""
    batch, steps = 4, 3
    rng = np.random.default_rng(3)
    x = rng.normal(0.5, 2.0, size=(batch * steps, 6, 6, 2)).astype("float32")
    y = rng.integers(0, 3, batch * steps)
    start = [to_numpy(w) for w in cnn(normalization).weights]
    whole = trained_weights(normalization, batch, None, x, y)
    micro = trained_weights(normalization, 1, batch, x, y)
    gap = max(np.max(np.abs(a - b)) for a, b in zip(whole, micro))
    moved = min(np.max(np.abs(a - s)) for a, s in zip(whole, start)
                if a.shape == s.shape and a.dtype.kind == "f")
    if equal:
        assert moved > 1e-3  # every weight trained, mean and std included
        assert gap < 1e-5
    else:
        assert gap > 1e-2


def regularized_mlp(model_class):
    """Two BatchlessNormalization layers and another added loss (activity
    regularization), which `bln_nll` must leave out."""
    keras.utils.set_random_seed(11)
    return model_class([
        keras.Input((5,)),
        keras.layers.Dense(4, activation="tanh"),
        BatchlessNormalization(init_mean=0.2, init_std=0.7),
        keras.layers.ActivityRegularization(l2=0.01),
        keras.layers.Dense(3, activation="tanh"),
        BatchlessNormalization(std_parametrization="inv", loss_weight=0.5,
                               gauge=False),
        keras.layers.Dense(3),
    ])


def compiled_mlp(model_class, accumulation, learning_rate=0.1, **compile):
    model = regularized_mlp(model_class)
    model.compile(keras.optimizers.SGD(
        learning_rate, gradient_accumulation_steps=accumulation), LOSS,
        **compile)
    return model


def mlp_data(n):
    rng = np.random.default_rng(12)
    return (rng.normal(1.0, 2.0, size=(n, 5)).astype("float32"),
            rng.integers(0, 3, n))


@pytest.mark.parametrize("batch_size, accumulation, n, run_eagerly", [
    (4, None, 10, True),  # batches of 4, 4, 2: weighted like `loss`
    (1, 3, 6, False)])  # compiled as `fit` compiles by default
def test_bln_nll_is_the_layers_loss_terms(batch_size, accumulation, n,
                                          run_eagerly):
    """Over a `fit` epoch, `bln_nll` is the batch-size-weighted mean of the
    two layers' NLL terms and `loss - bln_nll` that of the rest of the
    loss, replayed step by step on a plain Sequential that takes the same
    steps."""
    x, y = mlp_data(n)
    history = compiled_mlp(BatchlessSequential, accumulation,
                           run_eagerly=run_eagerly).fit(
        x, y, batch_size=batch_size, shuffle=False, verbose=0).history

    replay = compiled_mlp(keras.Sequential, accumulation,
                          run_eagerly=run_eagerly)
    norms = [layer for layer in replay.layers
             if isinstance(layer, BatchlessNormalization)]
    nll, rest, sizes = [], [], []
    for start in range(0, n, batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        out = replay(xb, training=True)
        terms = [to_numpy(t) for layer in norms for t in layer.losses]
        assert len(terms) == 2 and min(abs(t) for t in terms) > 1e-3
        nll.append(sum(terms))
        rest.append(sum(to_numpy(t) for t in replay.losses) - nll[-1]
                    + to_numpy(LOSS(yb, out)))
        sizes.append(len(xb))
        replay.train_on_batch(xb, yb)
    np.testing.assert_allclose(history["bln_nll"],
                               [np.average(nll, weights=sizes)],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        np.subtract(history["loss"], history["bln_nll"]),
        [np.average(rest, weights=sizes)], rtol=1e-5, atol=1e-6)


def test_loss_minus_bln_nll_is_what_evaluate_reports():
    """With the weights held (learning rate 0), `fit`'s `loss - bln_nll`
    over an epoch equals `evaluate`'s loss on the same batches, which holds
    no NLL: there `bln_nll` is 0."""
    x, y = mlp_data(10)
    model = compiled_mlp(BatchlessSequential, None, learning_rate=0.0)
    history = model.fit(x, y, batch_size=4, shuffle=False, verbose=0).history
    evaluated = model.evaluate(x, y, batch_size=4, verbose=0,
                               return_dict=True)
    assert abs(history["bln_nll"][0]) > 1e-2
    assert evaluated["bln_nll"] == 0.0
    np.testing.assert_allclose(history["loss"][0] - history["bln_nll"][0],
                               evaluated["loss"], rtol=1e-5)


def test_the_metric_does_not_change_training():
    """Batch 1 with accumulation: the same weights to the last bit as with
    a plain Sequential, in the validation logs too."""
    rng = np.random.default_rng(13)
    x = rng.normal(0.5, 2.0, size=(8, 6, 6, 2)).astype("float32")
    y = rng.integers(0, 3, 8)
    plain, tracked = (
        trained_weights(BatchlessNormalization, 1, 4, x, y, model_class)
        for model_class in (keras.Sequential, BatchlessSequential))
    for a, b in zip(plain, tracked):
        np.testing.assert_array_equal(a, b)


def test_a_reloaded_model_reports_bln_nll(tmp_path):
    x, y = mlp_data(8)
    model = compiled_mlp(BatchlessSequential, 2)
    model.fit(x, y, batch_size=2, shuffle=False, verbose=0)
    loaded = save_and_reload(model, tmp_path)
    assert type(loaded) is BatchlessSequential
    assert "bln_nll" in loaded.metrics_names
    # Both continue from the same state (weights, optimizer, accumulators).
    again, reloaded = (m.fit(x, y, batch_size=2, shuffle=False,
                             verbose=0).history for m in (model, loaded))
    assert abs(reloaded["bln_nll"][0]) > 1e-3
    np.testing.assert_allclose(reloaded["bln_nll"], again["bln_nll"],
                               rtol=1e-6)
    np.testing.assert_allclose(reloaded["loss"], again["loss"], rtol=1e-6)


def test_nll_training_finds_the_data_statistics():
    """Trained alone by its NLL, (mu, sigma) converge to the data's mean and
    standard deviation, the NLL's minimizer."""
    layer = BatchlessNormalization(std_parametrization="abs", center=False,
                                   scale=False)
    model = keras.Sequential([keras.Input((3,)), layer])
    model.compile(keras.optimizers.Adam(0.05))
    x = np.random.default_rng(4).normal([3.0, -1.0, 0.0], [2.0, 0.5, 1.0],
                                        size=(256, 3)).astype("float32")
    model.fit(np.tile(x, (400, 1)), batch_size=256, shuffle=False,
              verbose=0)  # 400 full-batch steps
    np.testing.assert_allclose(to_numpy(layer.mean), x.mean(axis=0),
                               atol=2e-3)
    inverse_std, _ = layer.inverse_and_log_std()
    np.testing.assert_allclose(1 / to_numpy(inverse_std), x.std(axis=0),
                               rtol=2e-3)


def test_initialize_from_data_goes_in_depth_order():
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(5),
        BatchlessNormalization(std_parametrization="inv"),
        keras.layers.Dense(3, activation="relu"),
        BatchlessNormalization(scale=False),
    ])
    x = np.random.default_rng(5).normal(1.0, 3.0, size=(300, 4))
    x = x.astype("float32")
    dense_1, norm_1, dense_2, norm_2 = model.layers
    norm_1.gamma.assign([2.0, 1.0, 1.0, 1.0, 0.5])
    initialize_from_data(model, x)

    h = to_numpy(dense_1(x))
    np.testing.assert_allclose(to_numpy(norm_1.mean), h.mean(axis=0),
                               rtol=1e-5, atol=1e-5)
    inverse_std, _ = norm_1.inverse_and_log_std()
    np.testing.assert_allclose(1 / to_numpy(inverse_std), h.std(axis=0),
                               rtol=1e-4)
    # The second layer's statistics are those after the first was set.
    h = to_numpy(dense_2(norm_1(dense_1(x))))
    np.testing.assert_allclose(to_numpy(norm_2.mean), h.mean(axis=0),
                               rtol=1e-4, atol=1e-5)
    out = to_numpy(model(x))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-4)


@pytest.mark.parametrize("parametrization", PARAMETRIZATIONS)
def test_migration_keeps_the_inference_function(parametrization):
    rng = np.random.default_rng(6)
    model = keras.Sequential([
        keras.Input((5, 5, 2)),
        keras.layers.Conv2D(4, 3),
        keras.layers.BatchNormalization(epsilon=1e-2),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
        keras.layers.BatchNormalization(center=False),
    ])
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 2.0, size=w.shape)
                               if "variance" in w.name or w.name == "gamma"
                               else rng.normal(size=w.shape)
                               for w in layer.weights])
    migrated = migrate_batch_normalization(
        model, std_parametrization=parametrization)
    kinds = [type(layer).__name__ for layer in migrated.layers]
    assert kinds == ["Conv2D", "BatchlessNormalization", "Flatten", "Dense",
                     "BatchlessNormalization"]
    assert migrated.layers[4].beta is None
    x = rng.normal(size=(8, 5, 5, 2)).astype("float32")
    np.testing.assert_allclose(to_numpy(migrated(x)), to_numpy(model(x)),
                               rtol=1e-5, atol=1e-5)


def test_save_and_load_round_trip(tmp_path):
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        keras.layers.Conv2D(3, 3),
        BatchlessNormalization(axis=[2, 3], std_parametrization="abs",
                               epsilon=1e-3, init_mean=0.5, init_std=2.0,
                               loss_weight=0.1, gauge=False),
    ])
    model.compile("sgd", "mse")
    x = np.random.default_rng(8).normal(size=(8, 6, 6, 2))
    model.fit(x, np.zeros((8, 4, 4, 3)), batch_size=4, verbose=0)
    loaded = save_and_reload(model, tmp_path)
    layer = loaded.layers[-1]
    assert isinstance(layer, BatchlessNormalization)
    assert layer.get_config() == model.layers[-1].get_config()
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))


@pytest.mark.parametrize("kwargs, message", [
    ({"std_parametrization": "sqrt"}, "std_parametrization"),
    ({"epsilon": 0.0}, "epsilon"),
    ({"init_std": -1.0}, "init_std"),
    ({"loss_weight": "heavy"}, "loss_weight"),
    ({"axis": "last"}, "axis"),
    ({"axis": []}, "axis"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        BatchlessNormalization(**kwargs)


@pytest.mark.parametrize("axis", [2, -3, 0, [1, 0]])
def test_axes_out_of_range_or_the_batch_axis_raise(axis):
    layer = BatchlessNormalization(axis=axis)
    with pytest.raises(ValueError, match=r"`axis` must name feature axes"):
        layer.build((None, 4))


def lazy_sequential(**kwargs):
    """A Sequential without `keras.Input`: built by its first call or fit."""
    return keras.Sequential([keras.layers.Dense(4, activation="tanh"),
                             BatchlessNormalization(**kwargs),
                             keras.layers.Dense(3)])


class Block(keras.layers.Layer):
    """A sub-layer holding a Dense and a BatchlessNormalization."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3)
        self.norm = BatchlessNormalization()

    def call(self, inputs, training=None):
        return self.norm(self.dense(inputs), training=training)


class Subclassed(keras.Model):
    """Dense, BatchlessNormalization, then a Block (nested normalization);
    with `twice`, the first normalization layer is called twice."""

    def __init__(self, twice=False, **kwargs):
        super().__init__(**kwargs)
        self.twice = twice
        self.dense = keras.layers.Dense(5)
        self.norm = BatchlessNormalization(std_parametrization="abs")
        self.block = Block()

    def call(self, inputs, training=None):
        h = self.norm(self.dense(inputs), training=training)
        if self.twice:
            h = self.norm(h, training=training)
        return self.block(h, training=training)


@pytest.mark.parametrize("make", [lazy_sequential, Subclassed],
                         ids=["sequential_without_input", "subclassed"])
def test_builds_lazily_in_fit_and_predict(make):
    rng = np.random.default_rng(20)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.integers(0, 3, 8)
    model = make()
    model.compile(keras.optimizers.SGD(0.01), LOSS)
    model.fit(x, y, batch_size=4, verbose=0)  # 2 steps, builds the model
    assert model.predict(x, verbose=0).shape == (8, 3)
    norms = [layer for layer in model._flatten_layers()
             if isinstance(layer, BatchlessNormalization)]
    assert norms and all(layer.built for layer in norms)


class Single(keras.Model):
    """A subclassed model around one BatchlessNormalization."""

    def __init__(self, **kwargs):
        super().__init__()
        self.norm = BatchlessNormalization(**kwargs)

    def call(self, inputs):
        return self.norm(inputs)


@pytest.mark.parametrize("parametrization", PARAMETRIZATIONS)
@pytest.mark.parametrize("how", ["subclassed_call", "sequential_fit"])
def test_lazy_and_eager_builds_start_alike(parametrization, how):
    """Built lazily, symbolically (the first call of a subclassed model;
    `fit` on a Sequential without Input, with the learning rate 0) or
    eagerly (`build`), the layer starts from the same weights, `std` being
    what `init_std` stands for."""
    kwargs = {"std_parametrization": parametrization, "epsilon": 1e-3,
              "init_mean": 0.5, "init_std": 2.0}
    x = np.zeros((2, 4), "float32")
    if how == "subclassed_call":
        model = Single(**kwargs)
        model(x)
        lazy = model.norm
    else:
        model = keras.Sequential([BatchlessNormalization(**kwargs)])
        model.compile(keras.optimizers.SGD(0.0), "mse")
        model.fit(x, x, verbose=0)
        lazy = model.layers[0]
    eager = BatchlessNormalization(**kwargs)
    eager.build((None, 4))
    for name in ("mean", "std", "gamma", "beta"):
        np.testing.assert_array_equal(to_numpy(getattr(lazy, name)),
                                      to_numpy(getattr(eager, name)))
    expected = numpy_std_weight(parametrization, 2.0, 1e-3)
    np.testing.assert_allclose(to_numpy(eager.std), np.full(4, expected),
                               rtol=1e-6)
    np.testing.assert_allclose(to_numpy(eager.mean), 0.5)
    inverse_std, _ = eager.inverse_and_log_std()
    np.testing.assert_allclose(to_numpy(inverse_std), 0.5, rtol=1e-6)


def standardized(features):
    features = to_numpy(features)
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(features.std(axis=0), 1.0, rtol=1e-4)


@pytest.mark.parametrize("built", [False, True])
def test_initialize_from_data_in_a_subclassed_model(built):
    """After a Dense and nested in a sub-layer, both layers standardize
    their features, the nested one after the first was set."""
    model = Subclassed()
    x = np.random.default_rng(21).normal(1.0, 3.0, size=(300, 4))
    x = x.astype("float32")
    if built:
        model(x[:2])
    initialize_from_data(model, x)
    standardized(model.norm(model.dense(x)))
    standardized(model(x))
    # No `call` left replaced.
    for layer in (model.norm, model.block.norm):
        assert "call" not in vars(layer)


def test_initialize_from_data_in_nested_models():
    """A Functional model holding a Sequential without Input (unbuilt
    until the Functional model is made)."""
    inner = lazy_sequential()
    inputs = keras.Input((4,))
    outputs = BatchlessNormalization()(inner(inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(22).normal(-1.0, 2.0, size=(300, 4))
    x = x.astype("float32")
    initialize_from_data(model, x)
    dense_1, norm, _ = inner.layers
    standardized(norm(dense_1(x)))
    standardized(model(x))


@pytest.mark.parametrize("built", [False, True])
def test_initialize_from_data_rejects_a_layer_called_twice(built):
    model = Subclassed(twice=True)
    x = np.random.default_rng(23).normal(size=(16, 4)).astype("float32")
    if built:
        model(x)
    with pytest.raises(ValueError, match=r"called once.*is called 2 times"):
        initialize_from_data(model, x)
    assert "call" not in vars(model.norm)


def test_initialize_from_data_rejects_a_non_model():
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        initialize_from_data(BatchlessNormalization(), np.ones((2, 3)))
