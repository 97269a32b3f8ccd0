"""A fixed zero pattern: weights outside the mask stay exactly zero."""

import keras
import numpy as np
from keras import ops

from keras_constrained.constraints.base import ManifoldConstraint
from keras_constrained.constraints.base import as_float_tensor


@keras.saving.register_keras_serializable(package="keras_constrained")
class SparsityMask(ManifoldConstraint):
    """Weights where `mask` is 0 are held at exactly 0.

    The set is a linear subspace, so the projection, the tangent projection
    and the position step are all multiplication by the mask. Use it to
    restrict a weight matrix to the sparsity pattern of a communication
    graph (adjacency with self-loops), as distributed Hamiltonian networks
    need. `violation` is the largest magnitude outside the pattern.

    Args:
        mask: array-like of 0/1 (or booleans) with exactly the variable's
            shape.

    Example:

    ```python
    ring = numpy.eye(8) + numpy.roll(numpy.eye(8), 1, 0) \\
        + numpy.roll(numpy.eye(8), -1, 0)
    layer = keras.layers.Dense(
        8, kernel_constraint=keras_constrained.constraints.SparsityMask(ring))
    ```
    """

    exact_flow = True
    elementwise = True

    def __init__(self, mask):
        array = np.asarray(mask)
        if array.ndim == 0 or array.size == 0:
            raise ValueError(
                "`mask` must be a non-empty array with the variable's shape; "
                f"received mask of shape {array.shape}."
            )
        if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
            raise ValueError(
                "`mask` must hold only 0 and 1 (or booleans); received "
                f"values {np.unique(array)[:5].tolist()}."
            )
        self.mask = array.astype("float32")

    def check_shape(self, shape):
        if tuple(shape) != self.mask.shape:
            raise ValueError(
                f"`mask` has shape {self.mask.shape} but the variable it "
                f"constrains has shape {tuple(shape)}; they must be equal."
            )

    def dimension(self, shape):
        self.check_shape(shape)
        return int(self.mask.sum())

    def _mask_like(self, w):
        self.check_shape(w.shape)
        return ops.convert_to_tensor(self.mask, dtype=w.dtype)

    def __call__(self, w):
        w = as_float_tensor(w)
        return w * self._mask_like(w)

    def violation(self, w):
        w = as_float_tensor(w)
        return ops.max(ops.abs(w * (1.0 - self._mask_like(w))))

    def tangent(self, q, v):
        return v * self._mask_like(v)

    def move(self, q, v, dt):
        v = self.tangent(q, v)
        return self(q) + dt * v, v

    def get_config(self):
        return {"mask": self.mask.tolist()}
