"""Gradients of a compiled model's loss, on every backend.

Keras 3 has no backend-agnostic gradient API (each backend's trainer takes
its own gradients), so this one function branches on the backend.
"""

import keras


def loss_gradients(model, x, y):
    """The gradient of `model`'s compiled loss on `(x, y)`, inference mode.

    Returns one tensor per `model.trainable_variables`, in that order. The
    model runs with `training=False`, so no layer state changes.
    """
    backend = keras.config.backend()
    variables = model.trainable_variables
    if backend == "jax":
        import jax

        def loss(trainable):
            value, _ = model.compute_loss_and_updates(
                trainable, [v.value for v in model.non_trainable_variables],
                [v.value for v in model.metrics_variables], x, y, None,
                training=False)
            return value

        return jax.grad(loss)([v.value for v in variables])
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=False),
                                      training=False)
        return tape.gradient(loss, [v.value for v in variables])
    if backend == "torch":
        import torch

        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=False),
                                  training=False)
        return list(torch.autograd.grad(loss, [v.value for v in variables]))
    raise ValueError(f"No gradients for the {backend!r} backend.")
