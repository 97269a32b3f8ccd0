"""Record an H-DNN's backward sensitivity norms over training: the
quantity its gradient guarantee is about, watched while the weights move."""

import keras
import numpy as np

from keras_constrained._validation import check_instance
from keras_constrained._validation import check_integer
from keras_constrained.layers.hamiltonian import Hamiltonian
from keras_constrained.layers.sensitivity import sensitivity_norms


class SensitivityMonitor(keras.callbacks.Callback):
    """`||d y_N / d y_{N-l}||` of a `Hamiltonian` layer on a fixed batch.

    The gradient reaching the weights of step `N - l` passes through the
    backward sensitivity matrix `d y_N / d y_{N-l}`: where its norm falls
    far below 1 gradients vanish, where it grows large they explode. For
    the semi-implicit integrator no norm is below 1 whatever the weights;
    the upper side is what regularization (`smoothness_weight`, weight
    decay) has to hold. Before training and after every `every`-th epoch,
    this callback computes the per-sample norms with
    `keras_constrained.layers.sensitivity_norms` (closed form, every
    backend) at the layer's inputs for `x`, and adds to the epoch logs,
    hence to `History`:

    - `sensitivity_min`: the smallest norm over the samples and all `l`;
    - `sensitivity_max`: the largest.

    Under a mixed-precision policy the norms are computed in float32 (see
    `sensitivity_norms`).

    The epochs in between add nothing to the logs (no placeholder), so
    `history.history["sensitivity_min"][i]` was taken after epoch
    `monitor.epochs[i + 1]`: plot it against `monitor.epochs[1:]`.

    Attributes:
        epochs: the epochs after which norms were taken (0: before
            training).
        norms: NumPy array of shape `(len(epochs), samples, depth)`, the
            full profile: `norms[e, :, l - 1]` holds `||d y_N / d y_{N-l}||`
            per sample. A layer acting per position (after a `Conv2D`)
            counts every position of every input as a sample.

    Args:
        x: a fixed batch of the model's inputs.
        layer: the `Hamiltonian` layer or its name, among the model's
            top-level layers; `None` for the model's only one.
        every: positive int `k`: record after epochs `k, 2k, ...`.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((2,)),
        keras_constrained.layers.Hamiltonian(depth=8, step_size=0.25,
                                             state_size=4),
        keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = numpy.random.default_rng(0).normal(size=(64, 2))
    monitor = keras_constrained.callbacks.SensitivityMonitor(x[:16], every=2)
    history = model.fit(x, x[:, :1], epochs=4, verbose=0,
                        callbacks=[monitor])
    assert monitor.epochs == [0, 2, 4]
    assert monitor.norms.shape == (3, 16, 8)
    assert len(history.history["sensitivity_min"]) == 2  # epochs 2, 4
    assert min(history.history["sensitivity_min"]) >= 1 - 1e-5
    ```
    """

    def __init__(self, x, layer=None, every=1):
        super().__init__()
        self.x = x
        self.layer = check_instance(
            "layer", layer, (str, Hamiltonian),
            "a Hamiltonian layer, the name of one, or None", optional=True)
        self.every = check_integer("every", every, 1)
        self.epochs, self._norms = [], []

    @property
    def norms(self):
        return np.stack(self._norms)

    def _hamiltonian_layer(self):
        if isinstance(self.layer, Hamiltonian):
            return self.layer
        if self.layer is not None:
            return self.model.get_layer(self.layer)
        found = [layer for layer in self.model.layers
                 if isinstance(layer, Hamiltonian)]
        if len(found) != 1:
            raise ValueError(
                "`layer` must be given unless the model has exactly one "
                f"top-level Hamiltonian layer; it has {len(found)}.")
        return found[0]

    def _record(self, epoch):
        layer = self._hamiltonian_layer()
        # The layer's inputs for `x` under the current weights (the layers
        # before it train too). A functional or Sequential model is a graph
        # of layers, so its prefix up to `layer` is a model of its own
        # (taking one tensor, not a list of one, for a one-input model).
        inputs = self.model.inputs
        prefix = keras.Model(inputs if len(inputs) > 1 else inputs[0],
                             layer.input)
        norms = sensitivity_norms(layer, prefix(self.x, training=False))
        self.epochs.append(epoch)
        self._norms.append(keras.ops.convert_to_numpy(norms))

    def on_train_begin(self, logs=None):
        if not self.epochs:
            self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        self._record(epoch + 1)
        if logs is not None:
            logs["sensitivity_min"] = float(self._norms[-1].min())
            logs["sensitivity_max"] = float(self._norms[-1].max())
