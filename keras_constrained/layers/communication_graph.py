"""Sparsity patterns of communication graphs, for distributed H-DNNs."""

import numbers

import numpy as np

from keras_constrained._validation import check_integer


def graph_pattern(num_nodes, edges, units_per_node=1):
    """The 0/1 pattern `A + I` of an undirected communication graph.

    A weight matrix with this pattern (e.g. `Hamiltonian(kernel_mask=...)`)
    couples the units of node `i` only with those of node `i` itself and of
    its neighbours, so a forward or backward pass needs only messages along
    the graph's edges. Each node owns `units_per_node` consecutive units.

    Args:
        num_nodes: positive int, the number of nodes `M`.
        edges: pairs `(i, k)` of node indices in `[0, M)`; the graph is
            undirected, so `(i, k)` also links `k` to `i`.
        units_per_node: positive int, the units each node owns.

    Returns:
        A float32 NumPy array of shape `(M * units, M * units)`.

    Example:

    ```python
    ring = keras_constrained.layers.graph_pattern(
        8, [(i, (i + 1) % 8) for i in range(8)])
    assert ring.sum() == 8 * 3  # each node: itself and two neighbours
    ```
    """
    num_nodes = check_integer("num_nodes", num_nodes, 1)
    units_per_node = check_integer("units_per_node", units_per_node, 1)
    pattern = np.eye(num_nodes, dtype="float32")
    for edge in edges:
        if (len(edge) != 2 or not all(
                isinstance(i, numbers.Integral) and not isinstance(i, bool)
                and 0 <= i < num_nodes for i in edge)):
            raise ValueError(f"`edges` must be pairs of node indices in "
                             f"[0, {num_nodes}); received edge {edge!r}.")
        i, k = edge
        pattern[i, k] = pattern[k, i] = 1.0
    return np.kron(pattern, np.ones((units_per_node, units_per_node),
                                    dtype="float32"))
