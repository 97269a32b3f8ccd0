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
    # the circle constraint needs both per weight per step: under JAX they
    # dominated its step time. TensorFlow runs Keras' CPU train steps
    # without XLA, and its own sin and cos (like torch's) are vectorised
    # and cheaper than a polynomial of separate kernels. Float64 keeps the
    # exact functions.
    return (keras.config.backend() == "jax"
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
