"""Record each layer's gradient norm over training: vanishing or exploding
gradients across depth, seen directly."""

import keras
import numpy as np
from keras import ops

from keras_constrained._backend.autodiff import loss_gradients
from keras_constrained._validation import check_instance


def _leading_sizes(data):
    """The sizes of the first axis of the arrays in `data` (None for a
    scalar)."""
    shapes = [tuple(t.shape) if hasattr(t, "shape") else np.shape(t)
              for t in keras.tree.flatten(data)]
    return {shape[0] if shape else None for shape in shapes}


class GradientNormMonitor(keras.callbacks.Callback):
    """Norms of the loss gradient per kernel on a fixed batch, every epoch.

    Before training and after every epoch, the gradient of the compiled
    loss on `(x, y)` (in inference mode, so no layer state changes) is
    taken with respect to every trainable variable named `kernel_name`
    (by default every `kernel`), and its Frobenius norm is recorded.

    Attributes:
        layer_names: the paths of the layers whose kernels are monitored
            (e.g. `"sequential/dense"`), in model order.
        epochs: `[0, 1, 2, ...]`, the epoch after which each row was taken
            (0: before training).
        norms: NumPy array of shape `(len(epochs), len(layer_names))`.

    Args:
        x: a fixed batch of inputs.
        y: its targets, one per example of `x`.
        kernel_name: the variable name to monitor, `"kernel"` by default;
            `fit` raises a `ValueError` if no trainable variable has it.

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = numpy.ones((32, 4)), numpy.zeros((32, 1))
    monitor = keras_constrained.callbacks.GradientNormMonitor(x[:16], y[:16])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
    assert monitor.norms.shape == (3, 2)  # before training + 2 epochs
    ```
    """

    def __init__(self, x, y, kernel_name="kernel"):
        super().__init__()
        x_sizes = _leading_sizes(x)
        y_sizes = x_sizes if y is None else _leading_sizes(y)
        if len(x_sizes | y_sizes) != 1 or None in x_sizes:
            raise ValueError(
                "`x` and `y` must be arrays (or structures of them) with one "
                "entry per example along the first axis; received x and y "
                f"with first axes of sizes {sorted(x_sizes, key=str)} and "
                f"{sorted(y_sizes, key=str)}.")
        self.x, self.y = x, y
        self.kernel_name = check_instance("kernel_name", kernel_name, str,
                                          "a string (a variable name)")
        self.layer_names, self.epochs, self._rows = [], [], []

    @property
    def norms(self):
        return np.array(self._rows).reshape(len(self._rows),
                                             len(self.layer_names))

    def _record(self, epoch):
        variables = self.model.trainable_variables
        grads = loss_gradients(self.model, self.x, self.y)
        picked = [(v, g) for v, g in zip(variables, grads)
                  if v.name == self.kernel_name]
        self.layer_names = [v.path.rsplit("/", 1)[0] for v, _ in picked]
        self.epochs.append(epoch)
        # Not `ops.norm`: float32 for float64 under JAX and torch.
        self._rows.append([float(ops.sqrt(ops.sum(ops.square(g))))
                           for _, g in picked])

    def on_train_begin(self, logs=None):
        names = sorted({v.name for v in self.model.trainable_variables})
        if self.kernel_name not in names:
            raise ValueError(
                f"`kernel_name` must name trainable variables of the model, "
                f"one of {names}; received kernel_name={self.kernel_name!r}.")
        if not self.epochs:
            self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch + 1)
