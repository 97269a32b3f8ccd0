"""Models built from other models: the posterior ensemble."""

from keras_constrained.models.posterior_ensemble import PosteriorEnsemble

__all__ = ["PosteriorEnsemble"]
