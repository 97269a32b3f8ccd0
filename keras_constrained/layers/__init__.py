"""Layers that train well by construction: Hamiltonian networks,
batchless normalization and weight normalization."""

from keras_constrained.layers.communication_graph import graph_pattern
from keras_constrained.layers.hamiltonian import Hamiltonian
from keras_constrained.layers.sensitivity import sensitivity_norms

__all__ = ["Hamiltonian", "graph_pattern", "sensitivity_norms"]
