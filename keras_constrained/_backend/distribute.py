"""The global gradient under TensorFlow's distribution strategies.

Under a `tf.distribute` strategy each replica computes the gradient of its
share of the batch, and Keras' TensorFlow optimizer sums them across
replicas inside `_backend_update_step`, just before the per-variable
`update_step`s. That suits optimizers whose update is a function of each
variable's own gradient. An optimizer that looks at every variable's
gradient first (DSGD compares all layers to pick one) overrides
`_backend_update_step`, sums the gradients itself with
`sum_over_replicas`, and assigns its new values with `variable.assign` in
the replica context: every replica then computes the same values, and
TensorFlow updates each replica's own copy of a variable whose aggregation
is `"none"` (Keras' default for weights and optimizer variables).
`tests/optimizers/distributed_fit.py` checks after training that the
copies agree and equal single-device training.

JAX's `keras.distribution` shards the batch inside one compiled step,
where gradients are already those of the global batch; torch has no such
strategy. There `sum_over_replicas` returns the gradients as they are.
"""

import keras


def sum_over_replicas(grads):
    """`grads` (a list of tensors) summed over TensorFlow's replicas, where
    there is more than one."""
    if keras.config.backend() != "tensorflow":
        return grads
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return grads
    return context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
