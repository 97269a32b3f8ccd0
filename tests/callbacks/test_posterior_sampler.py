import keras
import numpy as np
import pytest
from helpers import particle_model

from keras_constrained.callbacks import PosteriorSampler
from keras_constrained.optimizers import OverdampedLangevin


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append(self.model.get_weights())


def sample_run(sampler, steps=20):
    model, _ = particle_model(
        OverdampedLangevin(0.1, temperature=1.0, seed=0), shape=(4,))
    recorder = Recorder()
    model.fit(np.zeros((steps, 1), "float32"), batch_size=1, verbose=0,
              shuffle=False, callbacks=[sampler, recorder])
    return model, recorder.weights


@pytest.mark.parametrize("directory", [False, True])
def test_keeps_the_newest_samples_after_burn_in(directory, tmp_path):
    sampler = PosteriorSampler(
        burn_in=5, every=3, max_samples=4,
        directory=str(tmp_path / "samples") if directory else None)
    _, recorded = sample_run(sampler)
    # Samples at steps 5, 8, 11, 14, 17, 20; the newest four are kept.
    assert len(sampler) == 4
    for kept, step in zip(sampler.weights(), [11, 14, 17, 20]):
        for a, b in zip(kept, recorded[step - 1]):
            np.testing.assert_array_equal(a, b)
    if directory:
        files = sorted(p.name for p in (tmp_path / "samples").iterdir())
        assert files == [f"sample_{s}.npz" for s in (11, 14, 17, 20)]


def test_predict_averages_the_members_and_restores_the_weights():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(4)(inputs))
    model.compile(OverdampedLangevin(0.1, temperature=0.5, seed=1),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sampler = PosteriorSampler(burn_in=2, every=2, max_samples=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    model.fit(x, rng.integers(0, 4, 16), batch_size=2, verbose=0,
              callbacks=[sampler])
    final = [w.copy() for w in model.get_weights()]
    members = []
    for weights in sampler.weights():
        kernel, bias = weights
        logits = x @ kernel + bias
        e = np.exp(logits - logits.max(-1, keepdims=True))
        members.append(e / e.sum(-1, keepdims=True))
    np.testing.assert_allclose(sampler.predict(x, from_logits=True),
                               np.mean(members, axis=0), atol=1e-5)
    for a, b in zip(model.get_weights(), final):
        np.testing.assert_array_equal(a, b)


def test_predict_needs_samples():
    sampler = PosteriorSampler(burn_in=100)
    sample_run(sampler, steps=5)
    with pytest.raises(ValueError, match="no samples yet.*burn_in=100"):
        sampler.predict(np.zeros((1, 1), "float32"))


@pytest.mark.parametrize("kwargs, name", [
    ({"burn_in": -1}, "burn_in"), ({"every": 0}, "every"),
    ({"max_samples": 0}, "max_samples"), ({"every": 2.0}, "every"),
    ({"directory": 3}, "directory")])
def test_rejects_bad_arguments(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=f"`{name}`.*{name}="):
        PosteriorSampler(**kwargs)
