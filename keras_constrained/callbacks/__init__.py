"""Callbacks for constrained and Langevin training."""

from keras_constrained.callbacks.constraint_monitor import ConstraintMonitor
from keras_constrained.callbacks.gradient_norm_monitor import (
    GradientNormMonitor,
)
from keras_constrained.callbacks.posterior_sampler import PosteriorSampler

__all__ = ["ConstraintMonitor", "GradientNormMonitor", "PosteriorSampler"]
