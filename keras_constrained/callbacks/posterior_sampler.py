"""Collect weight samples during `fit` and average their predictions."""

import os
import re
import tempfile

import keras
import numpy as np

from keras_constrained._validation import check_bool
from keras_constrained._validation import check_instance
from keras_constrained._validation import check_integer
from keras_constrained.models.posterior_ensemble import PosteriorEnsemble
from keras_constrained.optimizers.cyclical_schedule import CyclicalSchedule

_SAMPLE = re.compile(r"sample_(\d+)\.npz")
_TEMPORARY = re.compile(r"\.sample_.*\.tmp")


class PosteriorSampler(keras.callbacks.Callback):
    """Keeps weight samples of a Langevin run and ensembles their predictions.

    At `temperature > 0` the Langevin optimizers sample the density
    `exp(-loss / T)` over the weights. After `burn_in` training steps this
    callback keeps the model's weights every `every` steps, at most
    `max_samples` of them (the newest), in memory or as `.npz` files in
    `directory`. `predict` then averages the members' predictive
    distributions: the Bayesian model average, which is usually better
    calibrated than any single network.

    Steps are training steps (batches), counted by this instance over all
    its `fit` calls: with `steps_per_execution > 1` the callback runs once
    per execution, and an execution that contains one or more sampling
    steps gives one sample, the weights at its end. Under JAX, reading the
    model syncs its state to the host, so the weights are read only when a
    sample is taken.

    In `directory` the samples are the files `sample_<n>.npz`, `n` a
    zero-padded sequence number (`sample_000012.npz`) that never repeats
    in the directory, so the names sort oldest first. Each file is written
    under a temporary name (`.sample_<n>.npz.tmp`), synced to disk and
    renamed into place, so a killed run never leaves a truncated sample,
    and the oldest sample is deleted before the newest is renamed in, so
    the directory never holds more than `max_samples` of them. When
    training begins the directory is created if needed and checked to be
    writable, and temporary files left by a killed write are deleted.

    Args:
        burn_in: int >= 0, training steps before the first sample.
        every: int >= 1, steps between two samples.
        max_samples: int >= 1, how many samples are kept (the newest).
        directory: None to keep samples in memory, or the directory in
            which the samples are written.
        resume: what to do when `fit` first begins and `directory` already
            holds samples from an earlier run: `False` raises a
            `ValueError`; `True` adds to them: they count as the oldest
            samples (against `max_samples`, in `weights` and `predict`)
            and new files are numbered after them.
        schedule: None, or the `CyclicalSchedule` of the run: samples are
            then taken only in its sampling phases.

    Example:

    ```python
    x = numpy.random.default_rng(0).normal(size=(64, 4))
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(
        optimizer=keras_constrained.optimizers.UnderdampedLangevin(
            0.3, temperature=1e-3, seed=0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sampler = keras_constrained.callbacks.PosteriorSampler(
        burn_in=20, every=4, max_samples=10)
    model.fit(x, y, batch_size=8, epochs=10, callbacks=[sampler], verbose=0)
    probabilities = sampler.predict(x, from_logits=True)  # (64, 2)
    ```
    """

    def __init__(self, burn_in=0, every=1, max_samples=100, directory=None,
                 resume=False, schedule=None):
        super().__init__()
        self.burn_in = check_integer("burn_in", burn_in, 0)
        self.every = check_integer("every", every, 1)
        self.max_samples = check_integer("max_samples", max_samples, 1)
        self.directory = check_instance("directory", directory,
                                        (str, os.PathLike), "a path or None",
                                        optional=True)
        self.resume = check_bool("resume", resume)
        self.schedule = check_instance(
            "schedule", schedule, CyclicalSchedule,
            "a keras_constrained.optimizers.CyclicalSchedule or None",
            optional=True)
        if directory is not None and os.path.exists(directory) and (
                not os.path.isdir(directory)):
            raise ValueError(
                "`directory` must be a directory or a path that can be "
                f"created as one; received directory={directory!r}, an "
                "existing file.")
        self.steps = 0
        self._samples = []  # weight lists, or paths of .npz files
        self._started = False
        self._next_number = 0  # of the next sample file
        self._epoch_start = 0  # self.steps when the epoch began
        self._last_batch = -1  # batch index of the last call in the epoch

    def __len__(self):
        return len(self._samples)

    def on_train_begin(self, logs=None):
        if self.directory is not None:
            self._prepare_directory()
        self._started = True
        self._epoch_start = self.steps
        self._last_batch = -1

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.steps
        self._last_batch = -1

    def on_train_batch_end(self, batch, logs=None):
        # Keras passes the index, within the epoch, of the last step of the
        # execution; an index that does not grow means a new epoch that
        # `on_epoch_begin` was not told of (a hand-written loop).
        if batch <= self._last_batch:
            self._epoch_start = self.steps
        self._last_batch = batch
        done = batch + 1
        steps_per_epoch = (self.params or {}).get("steps")
        if steps_per_epoch:  # a last, partial execution ends the epoch
            done = min(done, steps_per_epoch)
        previous, self.steps = self.steps, max(self.steps,
                                               self._epoch_start + done)
        if self.schedule is None:
            keep = (self._sampling_steps(self.steps)
                    > self._sampling_steps(previous))
        else:
            keep = any(self._is_sampling_step(step)
                       for step in range(previous + 1, self.steps + 1))
        if keep:
            self._keep(self.model.get_weights())

    def _is_sampling_step(self, steps):
        """Whether the count `steps >= 1` ends a sampling step: selected by
        `burn_in` and `every`, and (the step taken being `steps - 1`) in
        the schedule's sampling phase."""
        return (steps >= self.burn_in
                and (steps - self.burn_in) % self.every == 0
                and self.schedule.is_sampling(steps - 1))

    def _sampling_steps(self, steps):
        """How many of the steps `0, ..., steps` are sampling steps."""
        if steps < self.burn_in:
            return 0
        return (steps - self.burn_in) // self.every + 1

    def _prepare_directory(self):
        directory = os.fspath(self.directory)
        try:
            os.makedirs(directory, exist_ok=True)
            descriptor, probe = tempfile.mkstemp(
                prefix=".sample_probe_", suffix=".tmp", dir=directory)
            os.close(descriptor)
            os.remove(probe)
            names = os.listdir(directory)
            for name in names:
                if _TEMPORARY.fullmatch(name):
                    os.remove(os.path.join(directory, name))
        except OSError as error:
            raise ValueError(
                "`directory` must be a writable directory or a path that can "
                f"be created as one; received directory={self.directory!r}: "
                f"{error}") from error
        if self._started:
            return
        found = sorted((int(match.group(1)), name) for name in names
                       if (match := _SAMPLE.fullmatch(name)))
        if found and not self.resume:
            raise ValueError(
                f"`directory` already holds {len(found)} samples of an "
                f"earlier run: directory={self.directory!r}. Pass "
                "resume=True to add to them, or choose an empty directory.")
        self._samples = [os.path.join(directory, name) for _, name in found]
        if found:
            self._next_number = found[-1][0] + 1
        while len(self._samples) > self.max_samples:
            _remove(self._samples.pop(0))

    def _keep(self, weights):
        if self.directory is None:
            self._samples.append(weights)
            if len(self._samples) > self.max_samples:
                self._samples.pop(0)
            return
        directory = os.fspath(self.directory)
        name = f"sample_{self._next_number:06d}.npz"
        self._next_number += 1
        path = os.path.join(directory, name)
        temporary = os.path.join(directory, f".{name}.tmp")
        try:
            # Through a file object, so that NumPy keeps the name as it is.
            with open(temporary, "wb") as file:
                np.savez(file, *weights)
                file.flush()
                os.fsync(file.fileno())
            while len(self._samples) >= self.max_samples:
                _remove(self._samples.pop(0))
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise
        _sync_directory(directory)
        self._samples.append(path)

    def weights(self):
        """Yields each kept sample as a list of NumPy arrays, oldest first."""
        for sample in self._samples:
            if isinstance(sample, (str, os.PathLike)):
                with np.load(sample) as data:
                    sample = [data[f"arr_{i}"] for i in range(len(data))]
            yield sample

    def predict(self, x, from_logits=False, batch_size=None):
        """The ensemble's predictive distribution: the members' mean.

        Each member's output is taken as probabilities, or as logits turned
        into probabilities by a softmax over the last axis when
        `from_logits=True`. The model's own weights are restored afterwards.

        Returns:
            NumPy array of the averaged probabilities.
        """
        self._check_samples()
        current = self.model.get_weights()
        total = 0.0
        try:
            for weights in self.weights():
                self.model.set_weights(weights)
                out = self.model.predict(x, batch_size=batch_size, verbose=0)
                if from_logits:
                    out = keras.ops.convert_to_numpy(
                        keras.ops.softmax(out, axis=-1))
                total = total + np.asarray(out, dtype="float64")
        finally:
            self.model.set_weights(current)
        return total / len(self._samples)

    def ensemble(self, from_logits=False):
        """The kept samples as one saveable Keras model.

        A `keras_constrained.models.PosteriorEnsemble` of `self.model`: its
        `predict` is this sampler's `predict`, with the members evaluated
        together, and it saves to `.keras` with its members.

        Example:

        ```python
        x = numpy.random.default_rng(0).normal(size=(64, 4))
        y = (x[:, 0] > 0).astype("int32")
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        model.compile(optimizer="sgd", loss=keras.losses.
                      SparseCategoricalCrossentropy(from_logits=True))
        sampler = keras_constrained.callbacks.PosteriorSampler(
            burn_in=4, every=2, max_samples=5)
        model.fit(x, y, batch_size=8, epochs=2, callbacks=[sampler],
                  verbose=0)
        ensemble = sampler.ensemble(from_logits=True)
        probabilities = ensemble.predict(x, verbose=0)  # (64, 2)
        ```
        """
        self._check_samples()
        return PosteriorEnsemble(self.model, list(self.weights()),
                                 from_logits=from_logits)

    def _check_samples(self):
        if not self._samples:
            raise ValueError(
                "PosteriorSampler has no samples yet: train with it for more "
                f"than burn_in={self.burn_in} steps first.")


def _remove(path):
    """Deletes the file `path`, if it is still there."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _sync_directory(directory):
    """Makes a rename in `directory` durable, where the system allows it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
