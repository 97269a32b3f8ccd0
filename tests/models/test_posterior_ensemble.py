"""`PosteriorEnsemble`: the members' mean probabilities, as one model."""

import keras
import numpy as np
import pytest

from keras_constrained.callbacks import PosteriorSampler
from keras_constrained.models import PosteriorEnsemble
from keras_constrained.models import posterior_ensemble
from helpers import save_and_reload


def softmax(z):
    z = np.asarray(z, "float64")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def perturbed(model, count, scale=0.3, seed=0):
    rng = np.random.default_rng(seed)
    return [[w + scale * rng.normal(size=w.shape).astype(w.dtype)
             for w in model.get_weights()] for _ in range(count)]


def reference(model, members, x, from_logits):
    """The members' mean, one `set_weights` and `predict` per member."""
    current = model.get_weights()
    outputs = []
    for member in members:
        model.set_weights(member)
        out = model.predict(x, verbose=0)
        outputs.append(softmax(out) if from_logits else out)
    model.set_weights(current)
    return np.mean(outputs, axis=0)


def mlp(activation=None):
    return keras.Sequential([
        keras.Input((5,)), keras.layers.Dense(7, activation="tanh"),
        keras.layers.Dense(3, activation=activation)])


def batch_norm_model():
    inputs = keras.Input((5,))
    h = keras.layers.Dense(6)(inputs)
    h = keras.layers.BatchNormalization()(h)
    outputs = keras.layers.Dense(3)(keras.layers.Activation("relu")(h))
    return keras.Model(inputs, outputs)


def inputs(n=11):
    return np.random.default_rng(1).normal(size=(n, 5)).astype("float32")


@pytest.mark.parametrize("from_logits", [True, False])
def test_predicts_the_members_mean_probability(from_logits):
    model = mlp(None if from_logits else "softmax")
    members = perturbed(model, 4)
    ensemble = PosteriorEnsemble(model, members, from_logits=from_logits)
    x = inputs()
    expected = reference(model, members, x, from_logits)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected,
                               atol=1e-5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ensemble(x)), expected, atol=1e-5)
    assert ensemble._vectorize  # batched on every backend


def test_matches_posterior_sampler_predict():
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    x = inputs(32)
    y = (x[:, 0] > 0).astype("int32")
    sampler = PosteriorSampler(burn_in=2, every=2, max_samples=3)
    model.fit(x, y, batch_size=4, epochs=2, callbacks=[sampler], verbose=0)
    ensemble = sampler.ensemble(from_logits=True)
    assert isinstance(ensemble, PosteriorEnsemble)
    assert ensemble.num_members == 3
    np.testing.assert_allclose(ensemble.predict(x, verbose=0),
                               sampler.predict(x, from_logits=True),
                               atol=1e-5)


def test_members_are_its_only_weights_and_not_trainable():
    model = mlp()
    members = perturbed(model, 3)
    before = model.get_weights()
    ensemble = PosteriorEnsemble(model, members, from_logits=True)
    ensemble.predict(inputs(), verbose=0)
    assert ensemble.trainable_weights == []
    assert len(ensemble.weights) == len(model.weights)
    for variable, weight, i in zip(ensemble.weights, model.weights,
                                   range(len(model.weights))):
        assert tuple(variable.shape) == (3,) + tuple(weight.shape)
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(variable),
            np.stack([member[i] for member in members]))
    for w, b in zip(model.get_weights(), before):  # base model untouched
        np.testing.assert_array_equal(w, b)


def test_non_trainable_weights_in_inference_mode():
    model = batch_norm_model()
    members = perturbed(model, 3)
    for member in members:  # moving variances must stay positive
        member[3] = np.abs(member[3]) + 0.5
    ensemble = PosteriorEnsemble(model, members, from_logits=True)
    x = inputs()
    np.testing.assert_allclose(ensemble.predict(x, verbose=0),
                               reference(model, members, x, True), atol=1e-5)
    assert ensemble._vectorize  # batched on every backend


def test_frozen_model_with_dropout():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7),
                              keras.layers.Dropout(0.5, seed=3),
                              keras.layers.Dense(3)])
    model.trainable = False  # all weights, and the seed, non-trainable
    members = perturbed(model, 2)
    ensemble = PosteriorEnsemble(model, members, from_logits=True)
    x = inputs()
    np.testing.assert_allclose(ensemble.predict(x, verbose=0),
                               reference(model, members, x, True), atol=1e-5)


def test_subclassed_model():
    class Net(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = keras.layers.Dense(4, activation="relu")
            self.out = keras.layers.Dense(3)

        def call(self, x):
            return self.out(self.hidden(x))

    model = Net()
    model(inputs(2))
    members = perturbed(model, 3)
    ensemble = PosteriorEnsemble(model, members, from_logits=True)
    x = inputs()
    np.testing.assert_allclose(ensemble.predict(x, verbose=0),
                               reference(model, members, x, True), atol=1e-5)


def test_python_loop_fallback(monkeypatch):
    def cannot_batch(function, stacked):
        raise NotImplementedError("no batching rule")

    monkeypatch.setattr(posterior_ensemble, "_vectorized_map", cannot_batch)
    model = batch_norm_model()
    members = perturbed(model, 3)
    for member in members:
        member[3] = np.abs(member[3]) + 0.5
    ensemble = PosteriorEnsemble(model, members, from_logits=True)
    x = inputs()
    np.testing.assert_allclose(ensemble.predict(x, verbose=0),
                               reference(model, members, x, True), atol=1e-5)
    assert not ensemble._vectorize


def test_save_and_load(tmp_path):
    model = batch_norm_model()
    members = perturbed(model, 3)
    for member in members:
        member[3] = np.abs(member[3]) + 0.5
    ensemble = PosteriorEnsemble(model, members, from_logits=True,
                                 name="bma")
    x = inputs()
    expected = ensemble.predict(x, verbose=0)
    loaded = save_and_reload(ensemble, tmp_path)
    assert isinstance(loaded, PosteriorEnsemble)
    assert loaded.name == "bma" and loaded.num_members == 3
    assert loaded.from_logits
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected,
                               atol=1e-6)


def test_config_round_trip():
    model = mlp("softmax")
    ensemble = PosteriorEnsemble(model, perturbed(model, 2))
    config = ensemble.get_config()
    assert config["num_members"] == 2 and config["from_logits"] is False
    clone = PosteriorEnsemble.from_config(config)
    assert clone.get_config() == config
    assert [tuple(v.shape) for v in clone.weights] == [
        tuple(v.shape) for v in ensemble.weights]
    clone.set_weights(ensemble.get_weights())
    x = inputs()
    np.testing.assert_allclose(clone.predict(x, verbose=0),
                               ensemble.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize("bad, words", [
    (lambda members: [], "non-empty"),
    (lambda members: members[0][0], "non-empty"),
    (lambda members: [members[0][:-1]], "weights"),
    (lambda members: [members[0], members[1][:1] + [np.zeros((6, 3))]
                      + members[1][2:]], r"members\[1\]\[1\] of shape"),
    (lambda members: [members[0][0]], "of type ndarray"),
])
def test_bad_members(bad, words):
    model = mlp()
    with pytest.raises(ValueError, match=r"`members`.*" + words):
        PosteriorEnsemble(model, bad(perturbed(model, 2)))


def test_bad_model():
    with pytest.raises(TypeError, match="`model`"):
        PosteriorEnsemble(keras.layers.Dense(3), [[np.zeros(3)]])
    unbuilt = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="`model`.*not built"):
        PosteriorEnsemble(unbuilt, [[np.zeros(3)]])
