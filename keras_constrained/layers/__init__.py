"""Layers that train well by construction: Hamiltonian networks,
batchless normalization and weight normalization."""

from keras_constrained.layers.batchless_normalization import (
    BatchlessNormalization)
from keras_constrained.layers.batchless_normalization import (
    migrate_batch_normalization)
from keras_constrained.layers.data_init import initialize_from_data
from keras_constrained.layers.weight_normalization import WeightNormalization

__all__ = [
    "BatchlessNormalization", "WeightNormalization", "initialize_from_data",
    "migrate_batch_normalization",
]
