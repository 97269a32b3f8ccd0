"""Optimizers: constraint-aware Langevin dynamics, Riemannian SGD and Adam,
layer-wise DSGD, and the base class for new optimizers on the constraints'
geometry."""

from keras_constrained.optimizers.cyclical_schedule import CyclicalSchedule
from keras_constrained.optimizers.cyclical_schedule import (
    CyclicalTemperature,
)
from keras_constrained.optimizers.dsgd import DSGD
from keras_constrained.optimizers.manifold_optimizer import ManifoldOptimizer
from keras_constrained.optimizers.overdamped_langevin import OverdampedLangevin
from keras_constrained.optimizers.preconditioned_langevin import (
    PreconditionedLangevin,
)
from keras_constrained.optimizers.posterior_temperature import (
    posterior_temperature,
)
from keras_constrained.optimizers.riemannian_adam import RiemannianAdam
from keras_constrained.optimizers.riemannian_sgd import RiemannianSGD
from keras_constrained.optimizers.underdamped_langevin import (
    UnderdampedLangevin,
)

__all__ = ["CyclicalSchedule", "CyclicalTemperature", "DSGD",
           "ManifoldOptimizer", "OverdampedLangevin", "PreconditionedLangevin",
           "RiemannianAdam", "RiemannianSGD", "UnderdampedLangevin",
           "posterior_temperature"]
