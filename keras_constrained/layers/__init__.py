"""Layers that train well by construction: Hamiltonian networks,
batchless normalization and weight normalization."""

from keras_constrained.layers.batchless_normalization import (
    BatchlessNormalization)
from keras_constrained.layers.batchless_normalization import (
    migrate_batch_normalization)
from keras_constrained.layers.communication_graph import graph_pattern
from keras_constrained.layers.data_init import initialize_from_data
from keras_constrained.layers.hamiltonian import Hamiltonian
from keras_constrained.layers.nll_metric import BatchlessNLLMixin
from keras_constrained.layers.nll_metric import BatchlessSequential
from keras_constrained.layers.sensitivity import sensitivity_norms
from keras_constrained.layers.weight_normalization import WeightNormalization

__all__ = [
    "BatchlessNLLMixin", "BatchlessNormalization", "BatchlessSequential",
    "Hamiltonian", "WeightNormalization",
    "graph_pattern", "initialize_from_data", "migrate_batch_normalization",
    "sensitivity_norms",
]
