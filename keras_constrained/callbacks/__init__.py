"""Callbacks for constrained, Langevin and DSGD training."""

from keras_constrained.callbacks.constraint_monitor import ConstraintMonitor
from keras_constrained.callbacks.gradient_norm_monitor import (
    GradientNormMonitor,
)
from keras_constrained.callbacks.layer_choice_logger import LayerChoiceLogger
from keras_constrained.callbacks.posterior_sampler import PosteriorSampler
from keras_constrained.callbacks.project_onto_sets import ProjectOntoSets
from keras_constrained.callbacks.sensitivity_monitor import (
    SensitivityMonitor,
)

__all__ = ["ConstraintMonitor", "GradientNormMonitor", "LayerChoiceLogger",
           "PosteriorSampler", "ProjectOntoSets", "SensitivityMonitor"]
