"""Per-weight magnitude bound, realised for the dynamics as a circle."""

import math

import keras
import ml_dtypes
from keras import ops

from keras_constrained._backend.trigonometry import angle_of_sine
from keras_constrained._backend.trigonometry import cos_of_angle
from keras_constrained._backend.ops import maximum
from keras_constrained._backend.trigonometry import sin_of_angle
from keras_constrained._validation import check_positive
from keras_constrained.constraints.base import ManifoldConstraint
from keras_constrained.constraints.base import as_float_tensor


# How far, in units of the last place of the radius, the weights may be
# from those the arc lengths stand for and still be taken as written by the
# optimizer (`relift`).
RELIFT_ULPS = 8
# Looked up, not computed, in the step: `torch.compile` cannot trace
# `ml_dtypes.finfo` and would split the compiled step there.
_EPSILON = {dtype: float(ml_dtypes.finfo(dtype).eps)
            for dtype in ("float16", "bfloat16", "float32", "float64")}


@keras.saving.register_keras_serializable(package="keras_constrained")
class MagnitudeBound(ManifoldConstraint):
    """Every weight satisfies `|w| <= radius`.

    With stock Keras optimizers this is the box projection `clip(w, -r, r)`.
    For the constraint-aware optimizers it is the "circle" constraint of
    Leimkuhler et al. (2021): each weight `w` gets an auxiliary coordinate
    `xi` with `w**2 + xi**2 = r**2`, and the pair moves on that circle by
    exact rotation. The optimizer holds each weight's point on its circle
    by its arc length `s` (`w = r sin(s / r)`, `xi = r cos(s / r)`): there
    the exact rotation is a translation, the tangent projection is the
    identity and the tangential force is `gradient * cos(s / r)`, so the
    paper's integrators take a few elementwise operations per weight and
    `|w| <= r` holds exactly. Starting points are lifted with `xi >= 0`, as
    in the paper. Under the Langevin dynamics `w` follows the arcsine law on
    `[-r, r]` when the loss is flat. `violation` is the relative excess
    `max(|w|) / r - 1` (0 inside the box). Weights changed outside the
    optimizer (assigned, `set_weights`, `load_weights`) are lifted again
    at its next step.

    Start inside the bound: `glorot_uniform` can exceed it (its limit for a
    784 x 1000 kernel is 0.058 > 0.05). PyTorch's default Dense init,
    `keras.initializers.VarianceScaling(1/3, "fan_in", "uniform")`
    (uniform in +-1/sqrt(fan_in)), lies inside for fan-in >= 1/radius**2;
    `keras.initializers.RandomUniform(-radius, radius)` always does. A weight
    clipped to `+-r` sits where the circle's tangent is vertical and feels
    no force until noise moves it.

    Args:
        radius: positive float, the bound on every weight's magnitude.

    Example:

    ```python
    layer = keras.layers.Dense(
        1000,
        kernel_initializer=keras.initializers.VarianceScaling(
            1 / 3, "fan_in", "uniform"),
        kernel_constraint=keras_constrained.constraints.MagnitudeBound(0.05))
    ```
    """

    weights_are_coordinates = False
    exact_flow = True
    elementwise = True

    def __init__(self, radius):
        self.radius = check_positive("radius", radius)

    def __call__(self, w):
        return ops.clip(as_float_tensor(w), -self.radius, self.radius)

    def violation(self, w):
        excess = ops.max(ops.abs(as_float_tensor(w))) - self.radius
        return maximum(excess, 0.0) / self.radius

    def lift(self, w):
        ratio = ops.clip(as_float_tensor(w) * (1.0 / self.radius), -1.0, 1.0)
        return self.radius * angle_of_sine(ratio)

    # Arc lengths stay in [-pi r, pi r] (`lift` and `move` keep them there),
    # which lets the fast sine and cosine of `_backend.trigonometry` serve.
    # Angles are taken by multiplying with 1 / r: a division costs several
    # multiplications.
    def lower(self, q):
        return self.radius * sin_of_angle(q * (1.0 / self.radius))

    def lift_gradient(self, q, g):
        return g * cos_of_angle(q * (1.0 / self.radius))

    def relift(self, q, w):
        # Per weight: the ones the optimizer wrote keep their arc length
        # (and the side of the circle it is on). A few units in the last
        # place allow for the sine's rounding where it is recompiled.
        tolerance = RELIFT_ULPS * _EPSILON[ops.dtype(w)] * self.radius
        return ops.where(ops.abs(self.lower(q) - w) <= tolerance, q,
                         self.lift(w))

    def tangent(self, q, v):
        return v

    def move(self, q, v, dt):
        # Arc lengths are kept in [-pi r, pi r]: a wound-up coordinate would
        # lose float precision. Where `q + dt * v` is huge (steps of 1e4
        # without friction reach 1e8 r) its rounding has lost the angle,
        # and the reduction lands up to an ulp of that sum outside, where
        # the fast sine is no sine (weights left the box by 1e8 r): the
        # clip keeps every weight in the box all the same.
        half_turn = math.pi * self.radius
        q = q + dt * v
        q = q - (2 * half_turn) * ops.round(q * (0.5 / half_turn))
        return ops.clip(q, -half_turn, half_turn), v

    def get_config(self):
        return {"radius": self.radius}
