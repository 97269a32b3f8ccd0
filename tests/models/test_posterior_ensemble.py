"""`PosteriorEnsemble`: the members' mean probabilities, as one model."""

import keras
import numpy as np
import pytest

from keras_constrained import diagnostics
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
    assert config["chain_lengths"] == [2]
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


# Several chains pooled into one posterior.


def chain(count, seed, from_logits=True, model=None):
    """An ensemble of `count` members about a freshly built `mlp`."""
    model = model or mlp(None if from_logits else "softmax")
    return PosteriorEnsemble(model, perturbed(model, count, seed=seed),
                             from_logits=from_logits)


def member_weights(ensemble):
    stacked = [keras.ops.convert_to_numpy(v) for v in ensemble.members]
    return [[s[m] for s in stacked] for m in range(ensemble.num_members)]


def test_pool_predicts_the_member_weighted_mean_of_the_chains():
    chains = [chain(2, 0), chain(3, 1), chain(5, 2)]
    pooled = PosteriorEnsemble.pool(chains, name="pooled")
    assert pooled.name == "pooled" and pooled.from_logits
    assert pooled.num_members == 10 and pooled.chain_lengths == (2, 3, 5)
    x = inputs()
    weighted = sum(c.num_members * c.predict(x, verbose=0) for c in chains)
    np.testing.assert_allclose(pooled.predict(x, verbose=0), weighted / 10,
                               atol=1e-5)
    # Each member through its own chain's base model: the same mean.
    expected = np.sum([c.num_members * reference(
        c.model, member_weights(c), x, True) for c in chains], axis=0) / 10
    np.testing.assert_allclose(pooled.predict(x, verbose=0), expected,
                               atol=1e-5)
    assert pooled._vectorize


def test_pool_of_pooled_keeps_the_chains():
    a, b, c = chain(2, 0), chain(2, 1), chain(3, 2)
    nested = PosteriorEnsemble.pool([PosteriorEnsemble.pool([a, b]), c])
    assert nested.chain_lengths == (2, 2, 3)
    flat = PosteriorEnsemble.pool([a, b, c])
    for u, v in zip(nested.get_weights(), flat.get_weights()):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("from_logits", [True, False])
def test_chain_probabilities_are_each_members_probabilities(from_logits):
    chains = [chain(3, 0, from_logits), chain(3, 1, from_logits)]
    pooled = PosteriorEnsemble.pool(chains)
    x = inputs(11)
    draws = pooled.chain_probabilities(x, batch_size=4)  # a partial batch
    assert draws.shape == (2, 3, 11, 3)
    for c, ensemble in enumerate(chains):
        for d, member in enumerate(member_weights(ensemble)):
            np.testing.assert_allclose(
                draws[c, d], reference(ensemble.model, [member], x,
                                       from_logits), atol=1e-5)
    np.testing.assert_allclose(draws.mean(axis=(0, 1)),
                               pooled.predict(x, verbose=0), atol=1e-6)


def test_chain_probabilities_of_one_chain_and_python_loop(monkeypatch):
    ensemble = chain(4, 0)
    x = inputs()
    draws = ensemble.chain_probabilities(x)
    assert ensemble.chain_lengths == (4,) and draws.shape == (1, 4, 11, 3)

    def cannot_batch(function, stacked):
        raise NotImplementedError("no batching rule")

    monkeypatch.setattr(posterior_ensemble, "_vectorized_map", cannot_batch)
    looped = PosteriorEnsemble(ensemble.model, member_weights(ensemble),
                               from_logits=True, chain_lengths=[2, 2])
    np.testing.assert_allclose(looped.chain_probabilities(x),
                               draws.reshape(2, 2, 11, 3), atol=1e-6)
    assert not looped._vectorize


def test_chain_probabilities_needs_chains_of_equal_length():
    pooled = PosteriorEnsemble.pool([chain(2, 0), chain(3, 1)])
    with pytest.raises(ValueError, match=r"equal length.*\(2, 3\)"):
        pooled.chain_probabilities(inputs())


def test_rhat_of_stuck_and_of_mixing_chains(seed=0):
    keras.utils.set_random_seed(seed)
    model = mlp()
    x = inputs()
    # Two chains stuck about different weights: the second's last bias is
    # larger on class 0, which raises class 0's probability and lowers the
    # others' for every input, far more than the members' noise moves them.
    members = perturbed(model, 16, 0.001, seed)
    for member in members[8:]:
        member[-1] = member[-1] + np.array([2.0, 0.0, 0.0], "float32")
    stuck = [PosteriorEnsemble(model, members[:8], from_logits=True),
             PosteriorEnsemble(model, members[8:], from_logits=True)]
    high = diagnostics.rhat(
        PosteriorEnsemble.pool(stuck).chain_probabilities(x))
    assert high.shape == (11, 3) and np.all(high > 1.1)
    # Two chains of independent draws from one distribution.
    mixing = [PosteriorEnsemble(model, perturbed(model, 100, 0.3, s),
                                from_logits=True)
              for s in (seed + 1, seed + 2)]
    near_one = diagnostics.rhat(
        PosteriorEnsemble.pool(mixing).chain_probabilities(x))
    assert np.all(near_one < 1.05)
    assert abs(np.mean(near_one) - 1.0) < 0.02


def test_pool_accepts_samplers():
    x = inputs(32)
    y = (x[:, 0] > 0).astype("int32")
    samplers = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        model = mlp()
        model.compile(optimizer=keras.optimizers.SGD(0.1),
                      loss=keras.losses.SparseCategoricalCrossentropy(
                          from_logits=True))
        sampler = PosteriorSampler(burn_in=2, every=2, max_samples=3)
        model.fit(x, y, batch_size=4, epochs=2, callbacks=[sampler],
                  verbose=0)
        samplers.append(sampler)
    pooled = PosteriorEnsemble.pool(samplers, from_logits=True)
    assert pooled.from_logits and pooled.chain_lengths == (3, 3)
    expected = np.mean([s.predict(x, from_logits=True) for s in samplers],
                       axis=0)
    np.testing.assert_allclose(pooled.predict(x, verbose=0), expected,
                               atol=1e-5)
    # With an ensemble, a sampler takes the ensemble's from_logits.
    mixed = PosteriorEnsemble.pool(
        [samplers[0].ensemble(from_logits=True), samplers[1]])
    assert mixed.from_logits
    np.testing.assert_allclose(mixed.predict(x, verbose=0), expected,
                               atol=1e-5)


def test_pooled_save_and_load(tmp_path):
    pooled = PosteriorEnsemble.pool([chain(2, 0), chain(3, 1), chain(2, 2)],
                                    name="chains")
    x = inputs()
    expected = pooled.predict(x, verbose=0)
    loaded = save_and_reload(pooled, tmp_path)
    assert isinstance(loaded, PosteriorEnsemble)
    assert loaded.name == "chains" and loaded.chain_lengths == (2, 3, 2)
    assert loaded.num_members == 7 and loaded.from_logits
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected,
                               atol=1e-6)
    equal = PosteriorEnsemble.pool([chain(3, 0), chain(3, 1)])
    reloaded = save_and_reload(equal, tmp_path)
    assert reloaded.chain_lengths == (3, 3)
    np.testing.assert_allclose(reloaded.chain_probabilities(x),
                               equal.chain_probabilities(x), atol=1e-6)


def test_pooled_config_round_trip():
    pooled = PosteriorEnsemble.pool([chain(2, 0), chain(1, 1)])
    config = pooled.get_config()
    assert config["chain_lengths"] == [2, 1] and config["num_members"] == 3
    clone = PosteriorEnsemble.from_config(config)
    assert clone.chain_lengths == (2, 1) and clone.get_config() == config
    old = dict(config)  # a config saved before chains: one chain
    del old["chain_lengths"]
    assert PosteriorEnsemble.from_config(old).chain_lengths == (3,)


def mismatched(kind):
    if kind == "width":
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4),
                                  keras.layers.Dense(3)])
        return PosteriorEnsemble(model, perturbed(model, 2), True)
    if kind == "dtype":
        model = keras.Sequential([
            keras.Input((5,)), keras.layers.Dense(7, dtype="float16"),
            keras.layers.Dense(3, dtype="float16")])
        return PosteriorEnsemble(model, perturbed(model, 2), True)
    if kind == "layers":  # the same weights, with a layer more
        model = keras.Sequential([
            keras.Input((5,)), keras.layers.Dense(7, activation="tanh"),
            keras.layers.Dropout(0.1), keras.layers.Dense(3)])
        return PosteriorEnsemble(model, perturbed(model, 2), True)
    if kind == "probabilities":
        return chain(2, 1, from_logits=False)
    if kind == "empty sampler":
        return PosteriorSampler()
    return kind


@pytest.mark.parametrize("bad, words", [
    (lambda first: [], r"`ensembles` must be a non-empty list"),
    (lambda first: first, r"`ensembles` must be a non-empty list.*of type "
                          "PosteriorEnsemble"),
    (lambda first: [first, mismatched("not a chain")],
     r"`ensembles`.*ensembles\[1\] of type str"),
    (lambda first: [first, first.model], r"ensembles\[1\] of type Sequential"),
    (lambda first: [first, mismatched("width")],
     r"`ensembles` must be chains of one architecture.*ensembles\[1\].*"
     r"weight shapes"),
    (lambda first: [first, mismatched("dtype")], r"ensembles\[1\].*dtypes"),
    (lambda first: [first, mismatched("layers")],
     r"ensembles\[1\].*layer classes"),
    (lambda first: [first, mismatched("probabilities")],
     r"`ensembles` must agree on `from_logits`.*ensembles\[1\] with "
     r"from_logits=False.*ensembles\[0\] has from_logits=True"),
    (lambda first: [mismatched("empty sampler"), first],
     r"`ensembles\[0\]` cannot be pooled.*no samples"),
])
def test_pool_bad_inputs(bad, words):
    with pytest.raises(ValueError, match=words):
        PosteriorEnsemble.pool(bad(chain(2, 0)))


def test_pool_from_logits_disagrees_with_the_ensembles():
    with pytest.raises(ValueError, match=r"ensembles\[0\] with from_logits"
                                         r"=True.*given from_logits=False"):
        PosteriorEnsemble.pool([chain(2, 0)], from_logits=False)
    with pytest.raises(TypeError, match="`from_logits`"):
        PosteriorEnsemble.pool([chain(2, 0)], from_logits="yes")


@pytest.mark.parametrize("lengths, words", [
    ([2, 2], "sums to 4"), ([3, 0], "positive ints"), ([], "non-empty"),
    ("3", "non-empty"), ([1.5, 1.5], "positive ints"),
    ([True, 2], "positive ints")])
def test_bad_chain_lengths(lengths, words):
    model = mlp()
    with pytest.raises(ValueError, match=r"`chain_lengths`.*" + words):
        PosteriorEnsemble(model, perturbed(model, 3), chain_lengths=lengths)
