"""Optimizers: constraint-aware Langevin dynamics and layer-wise DSGD."""

from keras_constrained.optimizers.dsgd import DSGD
from keras_constrained.optimizers.overdamped_langevin import OverdampedLangevin
from keras_constrained.optimizers.posterior_temperature import (
    posterior_temperature,
)
from keras_constrained.optimizers.underdamped_langevin import (
    UnderdampedLangevin,
)

__all__ = ["DSGD", "OverdampedLangevin", "UnderdampedLangevin",
           "posterior_temperature"]
