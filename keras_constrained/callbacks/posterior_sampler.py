"""Collect weight samples during `fit` and average their predictions."""

import os

import keras
import numpy as np

from keras_constrained._validation import check_instance
from keras_constrained._validation import check_integer


class PosteriorSampler(keras.callbacks.Callback):
    """Keeps weight samples of a Langevin run and ensembles their predictions.

    At `temperature > 0` the Langevin optimizers sample the density
    `exp(-loss / T)` over the weights. After `burn_in` training steps this
    callback keeps the model's weights every `every` steps, at most
    `max_samples` of them (the newest), in memory or as `.npz` files in
    `directory`. `predict` then averages the members' predictive
    distributions: the Bayesian model average, which is usually better
    calibrated than any single network.

    Under JAX, reading the model syncs its state to the host, so the
    weights are read only on sampling steps.

    Args:
        burn_in: int >= 0, training steps before the first sample.
        every: int >= 1, steps between two samples.
        max_samples: int >= 1, how many samples are kept (the newest).
        directory: None to keep samples in memory, or a directory in which
            each sample is written as `sample_<step>.npz`.

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

    def __init__(self, burn_in=0, every=1, max_samples=100, directory=None):
        super().__init__()
        self.burn_in = check_integer("burn_in", burn_in, 0)
        self.every = check_integer("every", every, 1)
        self.max_samples = check_integer("max_samples", max_samples, 1)
        self.directory = check_instance("directory", directory,
                                        (str, os.PathLike), "a path or None",
                                        optional=True)
        self.steps = 0
        self._samples = []  # weight lists, or paths of .npz files

    def __len__(self):
        return len(self._samples)

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        after = self.steps - self.burn_in
        if after >= 0 and after % self.every == 0:
            self._keep(self.model.get_weights())

    def _keep(self, weights):
        if self.directory is not None:
            os.makedirs(self.directory, exist_ok=True)
            path = os.path.join(self.directory, f"sample_{self.steps}.npz")
            np.savez(path, *weights)
            weights = path
        self._samples.append(weights)
        if len(self._samples) > self.max_samples:
            dropped = self._samples.pop(0)
            if self.directory is not None:
                os.remove(dropped)

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
        if not self._samples:
            raise ValueError(
                "PosteriorSampler has no samples yet: train with it for more "
                f"than burn_in={self.burn_in} steps first."
            )
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
