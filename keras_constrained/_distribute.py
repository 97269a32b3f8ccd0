"""The global gradient under TensorFlow's distribution strategies.

Under a `tf.distribute` strategy each replica computes the gradient of its
share of the batch, and Keras' TensorFlow optimizer sums them across
replicas inside `_backend_update_step`, just before the per-variable
`update_step`s. That suits optimizers whose update is a function of each
variable's own gradient. An optimizer that looks at every variable's
gradient first (DSGD compares all layers to pick one) must sum them
itself, and then update the variables without summing again.

JAX's `keras.distribution` shards the batch inside one compiled step,
where gradients are already those of the global batch; torch has no such
strategy. There both functions below do nothing special.
"""

import keras


def _replica_context():
    """TensorFlow's replica context when there is more than one replica."""
    if keras.config.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def sum_over_replicas(grads):
    """`grads` (a list of tensors) summed over the replicas."""
    context = _replica_context()
    if context is None:
        return grads
    import tensorflow as tf

    return context.all_reduce(tf.distribute.ReduceOp.SUM, grads)


def update_variables(optimizer, steps, variables, learning_rate, fallback):
    """Runs `optimizer.update_step(step, variable, learning_rate)` for every
    variable, with `steps` already global (the same on every replica).

    Outside a multi-replica context this is `fallback(steps, variables,
    learning_rate)`: the parent class's `_backend_update_step`, whose sum
    over one replica changes nothing.
    """
    if _replica_context() is None:
        return fallback(steps, variables, learning_rate)
    import tensorflow as tf

    # What Keras' TensorFlow `_backend_update_step` does, less its sum.
    pairs = [(step, v.value if isinstance(v, keras.Variable) else v)
             for step, v in zip(steps, variables)]
    tf.__internal__.distribute.interim.maybe_merge_call(
        optimizer._distributed_tf_update_step,
        optimizer._distribution_strategy, pairs, learning_rate)
