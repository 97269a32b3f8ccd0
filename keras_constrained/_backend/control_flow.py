"""Branches, loops and host callbacks that cost what they should on every
backend: `keras.ops.cond` and `while_loop` recompile or build objects per
call on eager JAX and torch, and Python cannot run inside a compiled
step without a backend's own callback."""

import keras
from keras import ops


def _is_traced_by_jax(x):
    import jax

    return isinstance(x, jax.core.Tracer)


def branch(pred, true_fn, false_fn):
    """`keras.ops.cond` for costly branches (an SVD): only one ever runs.

    Outside `jax.jit`, JAX compiles both branches of a `lax.cond` at every
    call (new closures miss its cache: a second or more with an SVD):
    there a known `pred` is a Python `if`.
    """
    if keras.config.backend() == "jax" and not _is_traced_by_jax(pred):
        return true_fn() if bool(pred) else false_fn()
    return ops.cond(pred, true_fn, false_fn)


def cond(pred, true_fn, false_fn):
    """`keras.ops.cond` for cheap elementwise branches (an optimizer's).

    Under torch, `keras.ops.cond` builds an `Operation` per call (about
    100 microseconds of Python, measured, for what is an `if`); an
    optimizer calls it per variable per step. Inside `torch.compile` both
    branches run and a select picks: they fuse into one loop, where a
    Python `if` would split the compiled function. Elsewhere as `branch`.
    """
    if keras.config.backend() == "torch":
        import torch

        if torch.compiler.is_compiling():
            return keras.tree.map_structure(
                lambda a, b: ops.where(pred, a, b), true_fn(), false_fn())
        return true_fn() if bool(pred) else false_fn()
    return branch(pred, true_fn, false_fn)


def traced_once_per_shape(fn):
    """`fn`, which TensorFlow graphs call as one function per input shape.

    A TensorFlow graph inlines each call of `fn`: a stock optimizer's
    train step with `Orthogonal` on 20 kernels builds its loops 20 times
    (the first step took 8x the unconstrained one, against 4x on JAX). As
    a `tf.function` it is traced once per shape (and per value of its
    Python arguments) and called from every kernel's graph. Other
    backends: `fn` as it is.
    """
    if keras.config.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    return tf.function(fn, autograph=False)


def while_loop(keep_going, body, loop_vars):
    """`keras.ops.while_loop` over a tuple, a Python loop on eager JAX.

    Outside `jax.jit`, a `lax.while_loop` compiles its body at every call
    (a second or more for `Orthogonal`'s iterations): where the condition
    comes out known, the loop runs op by op. Inside a traced function it is
    the compiled loop.
    """
    loop_vars = tuple(loop_vars)
    if keras.config.backend() == "jax":
        go = keep_going(*loop_vars)
        while not _is_traced_by_jax(go):
            if not bool(go):
                return loop_vars
            loop_vars = tuple(body(*loop_vars))
            go = keep_going(*loop_vars)
    return ops.while_loop(keep_going, body, loop_vars)


def call_on_host_if(pred, fn):
    """Calls the Python function `fn()` at every run of the step being
    traced where the scalar boolean tensor `pred` is true.

    Returns whether it can: Python does not run per step inside a compiled
    train step, so each backend needs its own host callback. JAX:
    `jax.debug.callback` inside a `lax.cond` (run on the host only where
    `pred` holds). Torch runs eagerly: a Python `if`. TensorFlow:
    `tf.py_function` inside a `tf.cond` in a graph, except under XLA
    (`jit_compile=True`, Keras' default for TensorFlow train steps on a
    GPU), which compiles no Python call (tested: `py_function`,
    `numpy_function` and `print` are refused): there it returns False and
    calls nothing.
    """
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        jax.lax.cond(pred, lambda: jax.debug.callback(fn), lambda: None)
        return True
    if backend == "torch":
        if bool(pred):
            fn()
        return True
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util

    if tf.executing_eagerly():
        if bool(pred):
            fn()
        return True
    if control_flow_util.GraphOrParentsInXlaContext(
            tf.compat.v1.get_default_graph()):
        return False

    def call():
        fn()
        return tf.constant(True)

    tf.cond(pred, lambda: tf.py_function(call, [], tf.bool),
            lambda: tf.constant(False))
    return True
