"""Timing helpers shared by the benchmark scripts."""

import statistics
import time

import keras


def compiled(fn, jit_compile=False):
    """`fn` compiled the way Keras compiles a train step on this backend.

    `jit_compile` is a compiled model's resolved `jit_compile="auto"`. JAX
    train steps are always jitted under "auto"; TensorFlow wraps them in
    `tf.function`, with XLA only where "auto" chose it (not on CPU-only
    machines); torch runs them eagerly under "auto".
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=jit_compile)
    return fn


def median_seconds(fn, repeats):
    """Median wall time of `fn()` after one warm-up (compiling) call.

    `fn` must force completion of its work (e.g. convert to NumPy).
    """
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_median_seconds(fns, repeats):
    """Median wall time of each of `fns` (a dict name -> fn), timed in
    turns: one call of each per round, after one warm-up call of each.

    Taking turns spreads a busy spell of a shared machine over all of them,
    so their ratios stay fair. Each `fn` must force completion of its work.
    """
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
