"""Backward sensitivity norms of an H-DNN, the quantity of its gradient
guarantee, on every backend (closed-form Jacobians, no autodiff)."""

from keras import ops

from keras_constrained._validation import check_instance
from keras_constrained.layers.hamiltonian import Hamiltonian


def sensitivity_norms(layer, inputs):
    """Per-sample `||d y_N / d y_{N-l}||_2` for `l = 1, ..., depth`.

    The gradient of a loss with respect to the weights of step `N - l`
    passes through the backward sensitivity matrix `d y_N / d y_{N-l}`
    (the product of the step Jacobians `A_{N-1} ... A_{N-l}`); gradients
    vanish where its norm goes to 0. For the semi-implicit H-DNN every
    norm is at least 1. Uses `layer.step_jacobians`, so the norms are per
    sample, not of a batch-averaged matrix. Under a mixed-precision
    policy the Jacobians, their products and the SVD run in float32.

    Args:
        layer: a built `Hamiltonian` layer.
        inputs: tensor of shape `(..., d)`; leading axes are flattened.

    Returns:
        A tensor of shape `(B, depth)` whose column `l - 1` is the spectral
        norm of `d y_N / d y_{N-l}` for each of the `B` samples.

    Example:

    ```python
    layer = keras_constrained.layers.Hamiltonian(depth=16, step_size=0.2)
    x = numpy.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    layer(x)
    norms = keras.ops.convert_to_numpy(
        keras_constrained.layers.sensitivity_norms(layer, x))
    assert norms.shape == (3, 16) and norms.min() >= 1 - 1e-4
    ```
    """
    check_instance("layer", layer, Hamiltonian, "a built `Hamiltonian` layer")
    if not layer.built:
        raise ValueError("`layer` must be a built `Hamiltonian` layer; "
                         f"received the unbuilt layer {layer.name!r}.")
    jacobians = layer.step_jacobians(inputs)
    product = jacobians[-1]
    norms = []
    for j in range(layer.depth - 1, -1, -1):
        if j < layer.depth - 1:
            product = ops.einsum("bik,bkl->bil", product, jacobians[j])
        norms.append(ops.max(ops.svd(product, compute_uv=False), axis=-1))
    return ops.stack(norms, axis=-1)
