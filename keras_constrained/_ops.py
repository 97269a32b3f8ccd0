"""Workarounds for backend quirks in `keras.ops`, each with its reason."""

import math

import keras
from keras import ops


def matmul(a, b):
    """Matrix product that keeps float64.

    Under the torch backend `keras.ops.matmul` casts two float64 operands to
    float32 (Keras 3.15's dtype promotion); `einsum` keeps the dtype on every
    backend at the same cost.
    """
    return ops.einsum("ij,jk->ik", a, b)


# Taylor coefficients of sin up to u**11: on |u| <= pi/2 the remainder is
# below 6e-8, float32's resolution.
_SIN_COEFFICIENTS = (-1 / 39916800, 1 / 362880, -1 / 5040, 1 / 120, -1 / 6)


def _sin_of_reduced(u):
    """sin(u) for |u| <= pi/2 by its Taylor polynomial (Horner form)."""
    u2 = u * u
    poly = ops.zeros_like(u)
    for coefficient in _SIN_COEFFICIENTS:
        poly = (poly + coefficient) * u2
    return u + u * poly


def _polynomial_is_faster(x):
    # XLA's CPU sin and cos cost about thirty fused multiply-adds per element
    # (measured: 3.5 ms vs 0.1 ms for this polynomial on 784,000 floats), and
    # the circle constraint needs both per weight per step. JAX compiles the
    # train step with XLA, and TensorFlow runs the optimizers' per-variable
    # arithmetic with XLA (`fused`), where the polynomial fuses into one
    # loop. Torch runs eagerly: its own vectorised sin and cos are cheaper
    # than a polynomial of separate kernels. Float64 keeps the exact
    # functions.
    return (keras.config.backend() in ("jax", "tensorflow")
            and ops.dtype(x) in ("float32", "float16", "bfloat16"))


def sin_of_angle(x):
    """sin(x) for x in [-pi, pi]: float32-accurate, fast on every backend."""
    if not _polynomial_is_faster(x):
        return ops.sin(x)
    a = ops.abs(x)
    return ops.sign(x) * _sin_of_reduced(ops.minimum(a, math.pi - a))


def cos_of_angle(x):
    """cos(x) for x in [-pi, pi]: float32-accurate, fast on every backend."""
    if not _polynomial_is_faster(x):
        return ops.cos(x)
    return _sin_of_reduced(0.5 * math.pi - ops.abs(x))


def fused(fn):
    """`fn`, a function of tensors only, compiled into fused loops.

    TensorFlow runs Keras' train steps on CPU as graphs without XLA, where
    each elementwise op is a separate pass over the whole tensor; an
    optimizer's per-variable arithmetic (a dozen or more such ops) then
    costs several times its memory traffic. Under TensorFlow `fn` becomes an
    XLA-compiled function (it nests in any train step), fusing the chain
    into one pass. JAX already compiles the whole train step with XLA.
    Torch runs eagerly (`torch.compile` takes seconds to compile per
    variable shape), so there `fn` is returned as it is.
    """
    if keras.config.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    compiled = tf.function(fn, jit_compile=True, autograph=False)

    def call(*args):
        # Keras variables count as tensors under TensorFlow: read them here,
        # so the compiled function sees values only.
        return compiled(*tf.nest.map_structure(
            lambda x: x if x is None else tf.convert_to_tensor(x), args))

    return call


def cond(pred, true_fn, false_fn):
    """`keras.ops.cond`, without its per-call cost under torch.

    Under torch, `keras.ops.cond` builds an `Operation` per call (about
    100 microseconds of Python, measured, for what is an `if`); an
    optimizer calls it per variable per step.
    """
    if keras.config.backend() == "torch":
        return true_fn() if bool(pred) else false_fn()
    return ops.cond(pred, true_fn, false_fn)
