"""Constraints that carry their geometry: pass them as `kernel_constraint=`."""

from keras_constrained.constraints.base import ManifoldConstraint
from keras_constrained.constraints.euclidean import Euclidean
from keras_constrained.constraints.magnitude_bound import MagnitudeBound
from keras_constrained.constraints.orthogonal import Orthogonal
from keras_constrained.constraints.sparsity_mask import SparsityMask
from keras_constrained.constraints.sphere import Sphere

__all__ = [
    "Euclidean",
    "MagnitudeBound",
    "ManifoldConstraint",
    "Orthogonal",
    "SparsityMask",
    "Sphere",
]
