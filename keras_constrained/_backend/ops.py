"""Workarounds for backend quirks in `keras.ops`, each with its reason:
float64 kept where Keras 3.15 computes float32, torch's failing solver,
an XLA compiler crash."""

import keras
from keras import ops


def matmul(a, b):
    """Matrix product that keeps float64.

    Under the torch backend `keras.ops.matmul` casts two float64 operands to
    float32 (Keras 3.15's dtype promotion); `einsum` keeps the dtype on every
    backend at the same cost.
    """
    return ops.einsum("ij,jk->ik", a, b)


def eigh(a):
    """`keras.ops.eigh`, retried in float64 where torch's solver fails.

    Torch's float32 LAPACK solver (2.13, CPU) fails to converge on some
    Gram matrices of saturated networks' gradients (rank 8 of 256, 99 zero
    columns: measured in `benchmarks/dsgd.py`) that NumPy, JAX and
    TensorFlow decompose; in float64 it converges.
    """
    if keras.config.backend() != "torch":
        return ops.eigh(a)
    import torch

    try:
        return ops.eigh(a)
    except torch.linalg.LinAlgError:
        values, vectors = ops.eigh(ops.cast(a, "float64"))
        return ops.cast(values, a.dtype), ops.cast(vectors, a.dtype)


def _keeping_float64(name):
    """`keras.ops.<name>` for one tensor, in float64 on float64 inputs.

    Keras 3.15 ends its dtype promotion by mapping float64 to float32 under
    JAX and torch (`BIT64_TO_BIT32_DTYPE` in
    `keras.src.backend.common.dtypes`, "to be aligned with JAX's default
    behavior", even with x64 enabled). Its JAX `tanh`, `sin`, `cos` and
    `arcsin` promote the input with a Python float, so they compute and
    return float32 for a float64 tensor (seen in their jaxprs): a float64
    H-DNN of 400 steps ended 5e-7 from the float64 trajectory instead of
    1e-15 (measured). `jax.numpy`'s functions keep the dtype, and so do
    these four under TensorFlow and torch.
    """
    keras_op = getattr(ops, name)

    def op(x):
        if keras.config.backend() == "jax":
            x = ops.convert_to_tensor(x)
            if ops.dtype(x) == "float64":
                import jax.numpy as jnp

                return getattr(jnp, name)(x)
        return keras_op(x)

    op.__name__ = name
    op.__doc__ = f"`keras.ops.{name}`, in float64 for float64 inputs."
    return op


tanh = _keeping_float64("tanh")
sin = _keeping_float64("sin")
cos = _keeping_float64("cos")
arcsin = _keeping_float64("arcsin")


def maximum(x, y):
    """`keras.ops.maximum`, in float64 where an operand is float64.

    Under torch Keras 3.15 takes it in float32 (its dtype promotion, as for
    `matmul`: even of two float64 tensors); torch's own keeps the dtype.
    """
    if keras.config.backend() == "torch":
        x, y = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
        if "float64" in (ops.dtype(x), ops.dtype(y)):
            import torch

            return torch.maximum(x, y)
    return ops.maximum(x, y)


def float32_or_wider(dtype):
    """`dtype` where it is float32 or wider, else float32: the dtype for
    the numerically sensitive parts of a computation under mixed precision.

    Not `keras.backend.result_type(dtype, "float32")`, which is float32 for
    float64 under JAX and torch (Keras 3.15, see `_keeping_float64`).
    """
    dtype = keras.backend.standardize_dtype(dtype)
    if dtype in ("float64", "float32"):
        return dtype
    return "float32"


def mean(x, axis=None, keepdims=False):
    """`keras.ops.mean`, in float64 for float64 inputs.

    Keras 3.15 averages float64 tensors in float32 under JAX and torch (it
    sums in the dtype of its promotion with float32, mapped to float32 as
    in `_keeping_float64`); a float64 sum over the count keeps the digits.
    """
    x = ops.convert_to_tensor(x)
    if ops.dtype(x) != "float64":
        return ops.mean(x, axis=axis, keepdims=keepdims)
    shape = ops.shape(x)
    axes = range(len(shape)) if axis is None else (
        axis if isinstance(axis, (list, tuple)) else [axis])
    count = 1
    for a in axes:
        count = count * shape[a]
    return ops.sum(x, axis=axis, keepdims=keepdims) / ops.cast(count, x.dtype)


def var(x, axis=None, keepdims=False):
    """`keras.ops.var`, in float64 for float64 inputs (see `mean`)."""
    x = ops.convert_to_tensor(x)
    if ops.dtype(x) != "float64":
        return ops.var(x, axis=axis, keepdims=keepdims)
    deviation = x - mean(x, axis=axis, keepdims=True)
    return mean(ops.square(deviation), axis=axis, keepdims=keepdims)


def identity(n, dtype):
    """The `n x n` identity matrix, not by `keras.ops.eye`.

    XLA's CPU compiler (jax 0.10) crashes on a fusion of an iota identity
    (`ops.eye`) with a transpose once `n` exceeds ~900; a diagonal of ones
    compiles.
    """
    return ops.diag(ops.ones((n,), dtype=dtype))
