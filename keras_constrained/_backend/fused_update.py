"""An optimizer's per-variable arithmetic as one fused loop per variable on
every backend (XLA under JAX and TensorFlow, `torch.compile` under
torch)."""

import functools
import math
import warnings

import keras
from keras import ops


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
    step), unless it loops to a tolerance (`iterative`): such steps are
    matrix products, which fusing does not speed up, and XLA took over a
    second to compile `Orthogonal`'s SVD fallback for every kernel shape
    (a small model's first `RiemannianSGD` step went from 3.0 s to 0.5 s
    without it). Torch runs eagerly, and every op also allocates a fresh
    tensor: `fn` and the assignments become one loop compiled by
    `torch.compile` that writes into the variables (a Langevin step on a
    784 x 1000 kernel took 5.7 ms eagerly, measured), unless `fn` is
    `iterative` (`torch.compile` would break it into pieces) or its first
    argument has fewer than `TORCH_COMPILE_MIN_SIZE` elements, where
    compiling costs more than it saves.
    """
    backend = keras.config.backend()
    if iterative:
        return functools.partial(_assign_all, fn)
    if backend == "tensorflow":
        fn = _xla_compiled(fn)
    eager = functools.partial(_assign_all, fn)
    if backend == "torch":
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
