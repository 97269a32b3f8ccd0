"""Workarounds for backend quirks in `keras.ops`, each with its reason."""

import functools
import math
import warnings

import keras
from keras import ops


def matmul(a, b):
    """Matrix product that keeps float64.

    Under the torch backend `keras.ops.matmul` casts two float64 operands to
    float32 (Keras 3.15's dtype promotion); `einsum` keeps the dtype on every
    backend at the same cost.
    """
    return ops.einsum("ij,jk->ik", a, b)


def eigh(a):
    """`keras.ops.eigh`, retried in float64 where torch's solver fails.

    Torch's float32 LAPACK solver (2.13, CPU) fails to converge on some
    Gram matrices of saturated networks' gradients (rank 8 of 256, 99 zero
    columns: measured in `benchmarks/dsgd.py`) that NumPy, JAX and
    TensorFlow decompose; in float64 it converges.
    """
    if keras.config.backend() != "torch":
        return ops.eigh(a)
    import torch

    try:
        return ops.eigh(a)
    except torch.linalg.LinAlgError:
        values, vectors = ops.eigh(ops.cast(a, "float64"))
        return ops.cast(values, a.dtype), ops.cast(vectors, a.dtype)


def _keeping_float64(name):
    """`keras.ops.<name>` for one tensor, in float64 on float64 inputs.

    Keras 3.15 ends its dtype promotion by mapping float64 to float32 under
    JAX and torch (`BIT64_TO_BIT32_DTYPE` in
    `keras.src.backend.common.dtypes`, "to be aligned with JAX's default
    behavior", even with x64 enabled). Its JAX `tanh`, `sin`, `cos` and
    `arcsin` promote the input with a Python float, so they compute and
    return float32 for a float64 tensor (seen in their jaxprs): a float64
    H-DNN of 400 steps ended 5e-7 from the float64 trajectory instead of
    1e-15 (measured). `jax.numpy`'s functions keep the dtype, and so do
    these four under TensorFlow and torch.
    """
    keras_op = getattr(ops, name)

    def op(x):
        if keras.config.backend() == "jax":
            x = ops.convert_to_tensor(x)
            if ops.dtype(x) == "float64":
                import jax.numpy as jnp

                return getattr(jnp, name)(x)
        return keras_op(x)

    op.__name__ = name
    op.__doc__ = f"`keras.ops.{name}`, in float64 for float64 inputs."
    return op


tanh = _keeping_float64("tanh")
sin = _keeping_float64("sin")
cos = _keeping_float64("cos")
arcsin = _keeping_float64("arcsin")


def maximum(x, y):
    """`keras.ops.maximum`, in float64 where an operand is float64.

    Under torch Keras 3.15 takes it in float32 (its dtype promotion, as for
    `matmul`: even of two float64 tensors); torch's own keeps the dtype.
    """
    if keras.config.backend() == "torch":
        x, y = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
        if "float64" in (ops.dtype(x), ops.dtype(y)):
            import torch

            return torch.maximum(x, y)
    return ops.maximum(x, y)


def float32_or_wider(dtype):
    """`dtype` where it is float32 or wider, else float32: the dtype for
    the numerically sensitive parts of a computation under mixed precision.

    Not `keras.backend.result_type(dtype, "float32")`, which is float32 for
    float64 under JAX and torch (Keras 3.15, see `_keeping_float64`).
    """
    dtype = keras.backend.standardize_dtype(dtype)
    if dtype in ("float64", "float32"):
        return dtype
    return "float32"


def mean(x, axis=None, keepdims=False):
    """`keras.ops.mean`, in float64 for float64 inputs.

    Keras 3.15 averages float64 tensors in float32 under JAX and torch (it
    sums in the dtype of its promotion with float32, mapped to float32 as
    in `_keeping_float64`); a float64 sum over the count keeps the digits.
    """
    x = ops.convert_to_tensor(x)
    if ops.dtype(x) != "float64":
        return ops.mean(x, axis=axis, keepdims=keepdims)
    shape = ops.shape(x)
    axes = range(len(shape)) if axis is None else (
        axis if isinstance(axis, (list, tuple)) else [axis])
    count = 1
    for a in axes:
        count = count * shape[a]
    return ops.sum(x, axis=axis, keepdims=keepdims) / ops.cast(count, x.dtype)


def var(x, axis=None, keepdims=False):
    """`keras.ops.var`, in float64 for float64 inputs (see `mean`)."""
    x = ops.convert_to_tensor(x)
    if ops.dtype(x) != "float64":
        return ops.var(x, axis=axis, keepdims=keepdims)
    deviation = x - mean(x, axis=axis, keepdims=True)
    return mean(ops.square(deviation), axis=axis, keepdims=keepdims)


# Taylor coefficients of sin up to u**11: on |u| <= pi/2 the remainder is
# below 6e-8, float32's resolution.
_SIN_COEFFICIENTS = (-1 / 39916800, 1 / 362880, -1 / 5040, 1 / 120, -1 / 6)


def _sin_of_reduced(u):
    """sin(u) for |u| <= pi/2 by its Taylor polynomial (Horner form)."""
    u2 = u * u
    poly = ops.zeros_like(u)
    for coefficient in _SIN_COEFFICIENTS:
        poly = (poly + coefficient) * u2
    return u + u * poly


def _polynomial_is_faster(x):
    # A compiler's CPU sin and cos cost about thirty fused multiply-adds per
    # element (XLA: 3.5 ms against 0.1 ms for this polynomial on 784,000
    # floats, measured), and the circle constraint needs both per weight
    # per step. Where the optimizers' arithmetic is compiled
    # (`fused_update`: JAX and TensorFlow through XLA, torch through
    # `torch.compile`) the polynomial fuses into one loop. Eager torch runs
    # one kernel per op: there its own vectorised sin and cos are cheaper
    # than a polynomial of separate kernels. Float64 keeps the exact
    # functions.
    if ops.dtype(x) not in ("float32", "float16", "bfloat16"):
        return False
    backend = keras.config.backend()
    if backend == "torch":
        import torch

        return torch.compiler.is_compiling()
    return backend in ("jax", "tensorflow")


def sin_of_angle(x):
    """sin(x) for x in [-pi, pi]: float32-accurate, fast on every backend."""
    if not _polynomial_is_faster(x):
        return sin(x)
    a = ops.abs(x)
    return ops.sign(x) * _sin_of_reduced(ops.minimum(a, math.pi - a))


def cos_of_angle(x):
    """cos(x) for x in [-pi, pi]: float32-accurate, fast on every backend."""
    if not _polynomial_is_faster(x):
        return cos(x)
    return _sin_of_reduced(0.5 * math.pi - ops.abs(x))


def fused_update(fn, iterative=False):
    """An update of variables computed by `fn` as fused loops.

    Returns `update(optimizer, targets, *args)`, which assigns the values
    `fn(*args)` (a function of tensors only) to the variables `targets`:
    both are dicts or lists of the same structure, nested or not, with
    `None` in `targets` where a value is not kept.

    An optimizer's per-variable arithmetic is a chain of a dozen or more
    elementwise ops. JAX compiles the whole train step with XLA, which
    fuses such a chain into one pass over the tensor: `fn` runs as it is.
    TensorFlow runs Keras' CPU train steps as graphs without XLA, one pass
    per op: `fn` becomes an XLA-compiled function (it nests in any train
    step). Torch runs eagerly, and every op also allocates a fresh tensor:
    `fn` and the assignments become one loop compiled by `torch.compile`
    that writes into the variables (a Langevin step on a 784 x 1000 kernel
    took 5.7 ms eagerly, measured), unless `fn` loops to a tolerance
    (`iterative`: `torch.compile` would break it into pieces) or its first
    argument has fewer than `TORCH_COMPILE_MIN_SIZE` elements, where
    compiling costs more than it saves.
    """
    backend = keras.config.backend()
    if backend == "tensorflow":
        fn = _xla_compiled(fn)
    eager = functools.partial(_assign_all, fn)
    if backend == "torch" and not iterative:
        return _torch_compiled_update(fn, eager)
    return eager


def _assign_all(fn, optimizer, targets, *args):
    for target, value in _pairs(targets, fn(*args)):
        optimizer.assign(target, value)


def _pairs(targets, values):
    """`(target, value)` for every target that is not `None`, from dicts or
    lists `targets` and `values` of the same structure."""
    if isinstance(targets, dict):
        for key, target in targets.items():
            yield from _pairs(target, values[key])
    elif isinstance(targets, (list, tuple)):
        for target, value in zip(targets, values):
            yield from _pairs(target, value)
    elif targets is not None:
        yield targets, values


def _xla_compiled(fn):
    import tensorflow as tf

    compiled = tf.function(fn, jit_compile=True, autograph=False)

    def call(*args):
        # Keras variables count as tensors under TensorFlow: read them here,
        # so the compiled function sees values only.
        return compiled(*tf.nest.map_structure(
            lambda x: x if x is None else tf.convert_to_tensor(x), args))

    return call


# Compiling takes seconds once per function and shape; a fused step saves
# about 5 ns per element: below this size it would take more than a few
# thousand steps to pay off.
TORCH_COMPILE_MIN_SIZE = 2**18


def _torch_compiled_update(fn, eager):
    import torch

    def assign_in_place(targets, *args):
        for target, value in _pairs(targets, fn(*args)):
            target.copy_(value)

    # Static shapes: with symbolic ones torch 2.13's inductor fails on
    # inputs written in place ("size_bytes_is_heap_allocated_").
    compiled = torch.compile(assign_in_place, dynamic=False)
    failed = False

    def update(optimizer, targets, *args):
        nonlocal failed
        if (failed or math.prod(args[0].shape) < TORCH_COMPILE_MIN_SIZE
                or torch.compiler.is_compiling()):
            return eager(optimizer, targets, *args)
        # Plain tensors sharing the variables' memory: Keras variables hold
        # `torch.nn.Parameter`s, which the compiled function would treat
        # as another input type.
        tensors = keras.tree.map_structure(
            lambda x: x if x is None else ops.convert_to_tensor(x).detach(),
            (targets, *args))
        try:
            with warnings.catch_warnings():
                # Tracing Keras' dtype rules notes their `lru_cache`.
                warnings.filterwarnings(
                    "ignore", message=".*functools.lru_cache", module="torch")
                with torch.no_grad():
                    compiled(*tensors)
        except Exception as error:  # e.g. no C++ compiler on the machine
            warnings.warn(f"torch.compile failed, running eagerly: {error}")
            failed = True
            eager(optimizer, targets, *args)

    return update


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
