"""Workarounds for backend quirks in `keras.ops`, each with its reason."""

from keras import ops


def matmul(a, b):
    """Matrix product that keeps float64.

    Under the torch backend `keras.ops.matmul` casts two float64 operands to
    float32 (Keras 3.15's dtype promotion); `einsum` keeps the dtype on every
    backend at the same cost.
    """
    return ops.einsum("ij,jk->ik", a, b)
