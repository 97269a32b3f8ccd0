"""Per-unit norm constraint ("explicit weight normalization") and the
geometry of spheres, written for vectors along any axis."""

import math

import keras
from keras import ops

from keras_constrained._backend.ops import cos
from keras_constrained._backend.ops import sin
from keras_constrained._validation import check_positive
from keras_constrained.constraints.base import ManifoldConstraint
from keras_constrained.constraints.base import as_float_tensor


def _squared_norm(x, axis):
    return ops.sum(ops.square(x), axis=axis, keepdims=True)


def sphere_project(x, radius, axis):
    """Nearest point of the sphere of `radius` for each vector along `axis`.

    A zero vector has no nearest point; it goes to `radius` times the first
    basis vector, so the result always lies on the sphere.
    """
    norm = ops.sqrt(_squared_norm(x, axis))
    first = ops.cast(ops.arange(x.shape[axis]) == 0, x.dtype)
    rank = len(x.shape)
    first = ops.reshape(first, [-1 if a == axis % rank else 1
                                for a in range(rank)])
    is_zero = norm == 0
    x = ops.where(is_zero, first, x)
    return x * (radius / ops.where(is_zero, 1.0, norm))


def sphere_tangent(x, v, axis):
    """`v` minus its component along `x`, for each vector along `axis`."""
    inner = ops.sum(x * v, axis=axis, keepdims=True)
    return v - x * (inner / _squared_norm(x, axis))


def sphere_geodesic(x, v, dt, radius, axis):
    """Exact great-circle flow for time `dt` from `x` with velocity `v`.

    Only the tangent part of `v` moves the point. The landing point is
    rescaled to `radius`, which changes it only by rounding and keeps the
    constraint from drifting over many steps.
    """
    v = sphere_tangent(x, v, axis)
    speed = ops.sqrt(_squared_norm(v, axis))
    angle = speed * (dt / radius)
    cosine, sine = cos(angle), sin(angle)
    safe_speed = ops.where(speed > 0, speed, 1.0)
    sin_over_speed = ops.where(speed > 0, sine / safe_speed, dt / radius)
    x_new = x * cosine + v * (radius * sin_over_speed)
    v_new = v * cosine - x * (speed * sine / radius)
    x_new = sphere_project(x_new, radius, axis)
    return x_new, sphere_tangent(x_new, v_new, axis)


def sphere_violation(x, radius, axis):
    """Largest `| |x|^2 / radius^2 - 1 |` over the vectors along `axis`."""
    return ops.max(ops.abs(_squared_norm(x, axis) / radius**2 - 1.0))


@keras.saving.register_keras_serializable(package="keras_constrained")
class Sphere(ManifoldConstraint):
    """Every output unit's incoming weight vector has norm `radius`.

    This is explicit weight normalization: the direction of each unit's
    weights is free, their length is fixed. The unit vectors are taken over
    all axes but the last (like `keras.constraints.UnitNorm` on a Dense
    kernel `(in, out)` or a Conv kernel `(*kernel, in, out)`); a 1-D variable
    is one vector. The position step is the exact great-circle flow.

    Any initializer works: the projection (or a constraint-aware optimizer's
    `build()`) rescales each unit onto the sphere.

    Args:
        radius: positive float, the norm of every unit's weight vector.

    Example:

    ```python
    layer = keras.layers.Dense(
        64, kernel_constraint=keras_constrained.constraints.Sphere(1.0))
    ```
    """

    exact_flow = True

    def __init__(self, radius=1.0):
        self.radius = check_positive("radius", radius)

    def check_shape(self, shape):
        if len(shape) < 1:
            raise ValueError(
                "Sphere needs a variable of rank >= 1; received a scalar "
                f"variable (shape {tuple(shape)})."
            )

    def dimension(self, shape):
        # Each unit vector of n weights lies on a sphere of dimension n - 1.
        units = shape[-1] if len(shape) > 1 else 1
        return math.prod(shape) - units

    def _units(self, w):
        """Matrix view whose columns are the unit vectors."""
        self.check_shape(w.shape)
        return ops.reshape(w, (-1, w.shape[-1] if len(w.shape) > 1 else 1))

    def __call__(self, w):
        w = as_float_tensor(w)
        return ops.reshape(sphere_project(self._units(w), self.radius, 0),
                           w.shape)

    def violation(self, w):
        return sphere_violation(self._units(as_float_tensor(w)), self.radius,
                                0)

    def tangent(self, q, v):
        return ops.reshape(sphere_tangent(self._units(q), self._units(v), 0),
                           q.shape)

    def move(self, q, v, dt):
        q_new, v_new = sphere_geodesic(self._units(q), self._units(v), dt,
                                       self.radius, 0)
        return ops.reshape(q_new, q.shape), ops.reshape(v_new, q.shape)

    def get_config(self):
        return {"radius": self.radius}
