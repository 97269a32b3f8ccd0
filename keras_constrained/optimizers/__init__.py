"""Constraint-aware optimizers: they read each variable's constraint."""

from keras_constrained.optimizers.overdamped_langevin import OverdampedLangevin
from keras_constrained.optimizers.underdamped_langevin import (
    UnderdampedLangevin,
)

__all__ = ["OverdampedLangevin", "UnderdampedLangevin"]
