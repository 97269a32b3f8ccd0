"""Layers that train well by construction: Hamiltonian networks,
batchless normalization and weight normalization."""

__all__ = []
