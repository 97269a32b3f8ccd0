"""Sine and cosine of an angle and the angle of a sine, fast where the
optimizers' steps are compiled (the circle constraint needs sine and cosine
per weight per step, and checks each weight against its angle)."""

import math

import keras
from keras import ops

from keras_constrained._backend.ops import arcsin
from keras_constrained._backend.ops import cos
from keras_constrained._backend.ops import sin


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


# `arcsin(x) = x + x z P(z)` with `z = x**2` on |x| <= 1/2: P fitted by
# least squares in float64 (degree 4); with the half-angle identity below
# the error is below 1.7e-7 on [-1, 1] in float32 (1.5 units in the last
# place of pi / 2).
_ARCSIN_COEFFICIENTS = (0.04350015, 0.02331372, 0.04566836, 0.07493448,
                        0.1666681)


def _arcsin_of_reduced(x):
    """arcsin(x) for 0 <= x <= 1/2 by the fitted polynomial."""
    z = x * x
    poly = ops.zeros_like(x)
    for coefficient in _ARCSIN_COEFFICIENTS:
        poly = poly * z + coefficient
    return x + x * z * poly


def _polynomial_is_faster(x):
    # A compiler's CPU sin and cos cost about thirty fused multiply-adds per
    # element (XLA: 3.5 ms against 0.1 ms for this polynomial on 784,000
    # floats, measured), and the circle constraint needs both per weight
    # per step. Where the optimizers' arithmetic is compiled
    # (`fused_update`: JAX and TensorFlow through XLA, torch through
    # `torch.compile`) the polynomial fuses into one loop. Eager torch runs
    # one kernel per op: there its own vectorised sin and cos are cheaper
    # than a polynomial of separate kernels. Float64 keeps the exact
    # functions.
    if ops.dtype(x) not in ("float32", "float16", "bfloat16"):
        return False
    backend = keras.config.backend()
    if backend == "torch":
        import torch

        return torch.compiler.is_compiling()
    return backend in ("jax", "tensorflow")


def sin_of_angle(x):
    """sin(x) for x in [-pi, pi]: float32-accurate, fast on every backend."""
    if not _polynomial_is_faster(x):
        return sin(x)
    a = ops.abs(x)
    return ops.sign(x) * _sin_of_reduced(ops.minimum(a, math.pi - a))


def cos_of_angle(x):
    """cos(x) for x in [-pi, pi]: float32-accurate, fast on every backend."""
    if not _polynomial_is_faster(x):
        return cos(x)
    return _sin_of_reduced(0.5 * math.pi - ops.abs(x))


def angle_of_sine(s):
    """arcsin(s) for s in [-1, 1]: float32-accurate, fast on every backend.

    XLA's CPU arcsin goes through an arctangent that costs tens of
    nanoseconds per element (a `MagnitudeBound` Langevin epoch took 3.8x
    SGD's instead of 1.0x with it, measured under TensorFlow).
    """
    if not _polynomial_is_faster(s):
        return arcsin(s)
    a = ops.abs(s)
    outer = a > 0.5
    # arcsin(a) = pi / 2 - 2 arcsin(sqrt((1 - a) / 2)) for a > 1/2.
    reduced = ops.where(outer, ops.sqrt(ops.maximum(1.0 - a, 0.0) * 0.5), a)
    angle = _arcsin_of_reduced(reduced)
    return ops.sign(s) * ops.where(outer, 0.5 * math.pi - 2.0 * angle, angle)
