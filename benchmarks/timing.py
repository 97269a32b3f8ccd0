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


def interleaved_ratios(baseline, candidates, rounds):
    """Median over `rounds` of each candidate's time over the baseline's.

    Every round times the baseline and then each candidate once, so a load
    change on a shared machine hits both sides of a ratio alike. Each of
    `baseline` and `candidates` (a dict name -> fn) is called once first
    to warm up. Returns `(baseline median seconds, {name: median ratio})`.
    """
    fns = {"": baseline, **candidates}
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    base = times.pop("")
    return statistics.median(base), {
        name: statistics.median(t / b for t, b in zip(ts, base))
        for name, ts in times.items()}


def report(title, base, ratios):
    """Prints `title` with the baseline's milliseconds, then each ratio of
    `interleaved_ratios`."""
    print(f"\n{title} ({base * 1e3:.0f} ms)")
    for name, ratio in ratios.items():
        print(f"   {name:45s} {ratio:6.2f}")


def one_epoch(model, optimizer, x, y, batch_size=128, callbacks=None):
    """A function that trains `model` for one epoch of `(x, y)` with
    `optimizer` and the cross-entropy of integer labels and logits, and
    `fit`'s `callbacks`."""
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    return lambda: model.fit(x, y, batch_size=batch_size, epochs=1,
                             verbose=0, callbacks=callbacks)
