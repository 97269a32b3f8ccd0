"""Flat space: the geometry of a variable without a set to stay on."""

import keras
from keras import ops

from keras_constrained.constraints.base import ManifoldConstraint


@keras.saving.register_keras_serializable(package="keras_constrained")
class Euclidean(ManifoldConstraint):
    """The whole space: no constraint, with the geometry interface.

    The constraint-aware optimizers give it to every variable that has no
    `ManifoldConstraint`, so that one integrator serves constrained and
    unconstrained variables alike. As a Keras constraint it changes nothing.

    Example:

    ```python
    geometry = keras_constrained.constraints.Euclidean()
    q, v = keras.ops.ones((3, 2)), keras.ops.full((3, 2), 0.5)
    q_new, v_new = geometry.move(q, v, 0.1)  # q + 0.1 * v, and v
    ```
    """

    exact_flow = True
    elementwise = True

    def __call__(self, w):
        return w

    def violation(self, w):
        return ops.convert_to_tensor(0.0)

    def tangent(self, q, v):
        return v

    def move(self, q, v, dt):
        return q + dt * v, v
