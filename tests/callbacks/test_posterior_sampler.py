import io
import os

import keras
import numpy as np
import pytest
from helpers import Particles
from helpers import WeightRecorder as Recorder

from keras_constrained.callbacks import PosteriorSampler
from keras_constrained.optimizers import OverdampedLangevin

TORCH = keras.config.backend() == "torch"


class StepCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.steps += 1


class FileCounter(keras.callbacks.Callback):
    """The sample files in `directory` after every batch."""

    def __init__(self, directory):
        super().__init__()
        self.directory = directory
        self.counts = []

    def on_train_batch_end(self, batch, logs=None):
        self.counts.append(len(sample_files(self.directory)))


def sample_files(directory):
    return sorted(name for name in os.listdir(directory)
                  if name.startswith("sample_") and name.endswith(".npz"))


def make_model(seed=0, steps_per_execution=1):
    inputs = keras.Input((1,))
    model = keras.Model(inputs, Particles(shape=(4,))(inputs))
    model.compile(optimizer=OverdampedLangevin(0.1, temperature=1.0,
                                               seed=seed),
                  steps_per_execution=steps_per_execution)
    return model


def fit(model, callbacks, steps=20, epochs=1):
    recorder = Recorder()
    model.fit(np.zeros((steps, 1), "float32"), batch_size=1, epochs=epochs,
              verbose=0, shuffle=False, callbacks=[*callbacks, recorder])
    return recorder.weights


def sample_run(sampler, steps=20, seed=0, callbacks=()):
    model = make_model(seed)
    return model, fit(model, [sampler, *callbacks], steps)


def assert_samples(sampler, expected):
    samples = list(sampler.weights())
    assert len(samples) == len(expected)
    for kept, weights in zip(samples, expected):
        for a, b in zip(kept, weights):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("directory", [False, True])
def test_keeps_the_newest_samples_after_burn_in(directory, tmp_path):
    sampler = PosteriorSampler(
        burn_in=5, every=3, max_samples=4,
        directory=str(tmp_path / "samples") if directory else None)
    _, recorded = sample_run(sampler)
    # Samples 0-5 at steps 5, 8, 11, 14, 17, 20; the newest four are kept.
    assert len(sampler) == 4
    assert_samples(sampler, [recorded[s - 1] for s in (11, 14, 17, 20)])
    if directory:
        assert sorted(os.listdir(tmp_path / "samples")) == [
            f"sample_00000{n}.npz" for n in (2, 3, 4, 5)]


def test_a_second_fit_continues_the_samples(tmp_path):
    directory = tmp_path / "samples"
    sampler = PosteriorSampler(every=5, max_samples=10, directory=directory)
    model = make_model()
    recorded = fit(model, [sampler], steps=10)
    recorded += fit(model, [sampler], steps=10)
    assert sampler.steps == 20
    assert_samples(sampler, [recorded[s - 1] for s in (5, 10, 15, 20)])
    assert sample_files(directory) == [
        f"sample_00000{n}.npz" for n in range(4)]


class Killed(Exception):
    pass


def test_an_interrupted_write_leaves_only_loadable_samples(
        monkeypatch, tmp_path):
    directory = tmp_path / "samples"
    savez = np.savez
    written = []

    def interrupted_savez(file, *args, **kwargs):
        """The fourth write stops half-way, as a kill -9 would."""
        if len(written) < 3:
            written.append(None)
            return savez(file, *args, **kwargs)
        buffer = io.BytesIO()
        savez(buffer, *args, **kwargs)
        data = buffer.getvalue()[:len(buffer.getvalue()) // 2]
        if isinstance(file, (str, os.PathLike)):
            with open(file, "wb") as f:
                f.write(data)
            written.append(os.fspath(file))
        else:
            file.write(data)
            file.flush()
            written.append(file.name)
        raise Killed

    monkeypatch.setattr(np, "savez", interrupted_savez)
    sampler = PosteriorSampler(every=2, max_samples=3, directory=directory)
    with pytest.raises(Killed):
        sample_run(sampler)
    monkeypatch.setattr(np, "savez", savez)
    names = sorted(os.listdir(directory))
    assert names == [f"sample_00000{n}.npz" for n in range(3)]
    for name in names:
        with np.load(directory / name) as data:
            assert [data[f"arr_{i}"].shape for i in range(len(data))] == [
                (4,)]
    # The partial file was written under a temporary name in the directory;
    # a kill would have left it there, so put it back.
    leftover = written[-1]
    assert os.path.dirname(leftover) == str(directory)
    assert os.path.basename(leftover).startswith(".")
    with open(leftover, "wb") as f:
        f.write(b"PK\x03\x04 truncated")

    class Check(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.names = sorted(os.listdir(directory))
            self.kept = len(resumed)

    resumed = PosteriorSampler(every=2, max_samples=3, directory=directory,
                               resume=True)
    check = Check()
    sample_run(resumed, steps=2, callbacks=[check])
    assert check.names == names
    assert check.kept == 3
    assert sorted(os.listdir(directory)) == [
        f"sample_00000{n}.npz" for n in (1, 2, 3)]
    assert len(list(resumed.weights())) == 3


def test_a_new_sampler_on_a_used_directory_needs_resume(tmp_path):
    directory = tmp_path / "samples"
    first = PosteriorSampler(every=5, max_samples=3, directory=directory)
    _, first_recorded = sample_run(first)
    earlier = list(first.weights())  # samples 1-3, steps 10, 15, 20
    assert sample_files(directory) == [
        f"sample_00000{n}.npz" for n in (1, 2, 3)]

    counter = StepCounter()
    model = make_model(seed=1)
    with pytest.raises(ValueError, match=(
            r"`directory` already holds 3 samples.*directory=.*samples.*"
            r"resume=True")):
        fit(model, [PosteriorSampler(every=5, directory=directory),
                    counter])
    assert counter.steps == 0
    np.testing.assert_array_equal(model.get_weights()[0], np.zeros(4))
    assert sample_files(directory) == [
        f"sample_00000{n}.npz" for n in (1, 2, 3)]

    resumed = PosteriorSampler(every=5, max_samples=4, directory=directory,
                               resume=True)
    files = FileCounter(directory)
    _, recorded = sample_run(resumed, steps=10, seed=1, callbacks=[files])
    assert files.counts == [3] * 4 + [4] * 6
    assert sample_files(directory) == [
        f"sample_00000{n}.npz" for n in (2, 3, 4, 5)]
    assert_samples(resumed, earlier[1:] + [recorded[4], recorded[9]])
    assert not np.array_equal(recorded[4][0], first_recorded[4][0])

    class Check(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.names = sample_files(directory)

    check = Check()
    fewer = PosteriorSampler(every=5, max_samples=2, directory=directory,
                             resume=True)
    sample_run(fewer, steps=1, callbacks=[check])
    assert check.names == ["sample_000004.npz", "sample_000005.npz"]
    assert_samples(fewer, [recorded[4], recorded[9]])


def test_max_samples_bounds_the_files_on_disk(monkeypatch, tmp_path):
    directory = tmp_path / "samples"
    savez = np.savez
    after_writes = []

    def counting_savez(*args, **kwargs):
        savez(*args, **kwargs)
        after_writes.append(len(sample_files(directory)))

    monkeypatch.setattr(np, "savez", counting_savez)
    files = FileCounter(directory)
    sampler = PosteriorSampler(burn_in=2, every=2, max_samples=3,
                               directory=directory)
    sample_run(sampler, steps=12, callbacks=[files])
    assert files.counts == [0, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 3]
    assert len(after_writes) == 6 and max(after_writes) <= 3


def test_rejects_an_existing_file_as_directory(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(ValueError, match="`directory`.*directory=.*file"):
        PosteriorSampler(directory=str(path))


def test_rejects_a_directory_it_cannot_create_before_training(tmp_path):
    parent = tmp_path / "file"
    parent.write_text("")
    sampler = PosteriorSampler(directory=parent / "samples")
    counter = StepCounter()
    with pytest.raises(ValueError, match="`directory`.*directory=.*samples"):
        sample_run(sampler, callbacks=[counter])
    assert counter.steps == 0


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0,
                    reason="needs POSIX permissions that bind the user")
def test_rejects_an_unwritable_directory_before_training(tmp_path):
    directory = tmp_path / "samples"
    directory.mkdir(mode=0o500)
    try:
        sampler = PosteriorSampler(directory=directory)
        counter = StepCounter()
        with pytest.raises(ValueError, match="`directory`.*writable"):
            sample_run(sampler, callbacks=[counter])
        assert counter.steps == 0
    finally:
        directory.chmod(0o700)


@pytest.mark.skipif(TORCH, reason="torch allows only steps_per_execution=1")
@pytest.mark.parametrize("every, steps, epochs, taken", [
    (4, 16, 1, [4, 8, 12, 16]),
    (3, 16, 1, [4, 8, 12, 16]),  # steps 9 and 12 in one execution
    # 18 steps an epoch: each epoch ends with an execution of 2 steps.
    (6, 18, 2, [8, 12, 18, 26, 30, 36])])
def test_counts_steps_with_steps_per_execution(every, steps, epochs, taken):
    reference = fit(make_model(), [], steps=steps, epochs=epochs)
    sampler = PosteriorSampler(every=every)
    model = make_model(steps_per_execution=4)
    executions = fit(model, [sampler], steps=steps, epochs=epochs)
    assert sampler.steps == steps * epochs
    assert len(executions) == epochs * -(-steps // 4)
    samples = list(sampler.weights())
    assert len(samples) == len(taken)
    for kept, step in zip(samples, taken):
        np.testing.assert_allclose(kept[0], reference[step - 1][0],
                                   rtol=1e-6, atol=1e-6)


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
    with pytest.raises(ValueError, match="no samples yet.*burn_in=100"):
        sampler.ensemble()


@pytest.mark.parametrize("kwargs, name", [
    ({"burn_in": -1}, "burn_in"), ({"every": 0}, "every"),
    ({"max_samples": 0}, "max_samples"), ({"every": 2.0}, "every"),
    ({"directory": 3}, "directory"), ({"resume": 1}, "resume"),
    ({"resume": "yes"}, "resume")])
def test_rejects_bad_arguments(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=f"`{name}`.*{name}="):
        PosteriorSampler(**kwargs)
