"""Memory and time of a CNN training step with batchless normalization.

The model is a small Fashion-MNIST-sized CNN (28x28x1 -> Conv 32 -> norm ->
pool -> Conv 64 -> norm -> pool -> Dense 10, Adam), with `BatchNormalization`
(BN) or `BatchlessNormalization` (BlN) after each convolution. In one run on
the current Keras backend it measures:

* memory: one training step at effective batch 256, BN at batch 256 against
  BlN at micro-batch 8 with `gradient_accumulation_steps=32` (the same
  update, since BlN's statistics do not depend on the batch). Two measures,
  each where the backend offers one on CPU:
  - JAX: XLA's buffer assignment for Keras' own compiled train step
    (`jax.jit(model.train_step).lower(...).compile().memory_analysis()`):
    arguments + temporaries + outputs not aliased to donated arguments. This
    is the step's peak live memory as XLA plans it, data batch, weights,
    optimizer state and accumulators included.
  - torch: the bytes of the tensors autograd saves for the backward pass
    during one `train_on_batch` (`torch.autograd.graph.saved_tensors_hooks`):
    activations and the weights they multiply, the part of the memory that
    grows with the batch. Weights, optimizer state and allocator overhead
    are not counted.
  - TensorFlow on CPU exposes no allocator statistics: no memory column.
* time: the median, over rounds, of the `train_on_batch` time of BlN over
  that of BN in the same round, at the same
  batch size (models compiled with the default `jit_compile="auto"`), the
  two models' steps timed in turns so that a busy spell of a shared machine
  does not land on one side only.

Run (a few minutes per backend on 2 CPU cores):

    KERAS_BACKEND=jax python benchmarks/normalization.py
    KERAS_BACKEND=tensorflow python benchmarks/normalization.py
    KERAS_BACKEND=torch python benchmarks/normalization.py

Ratios, not megabytes or milliseconds, are the result; the absolute numbers
are context.
"""

import argparse
import functools

import keras
import numpy as np
from timing import interleaved_ratios

from keras_constrained.layers import BatchlessNormalization

EFFECTIVE_BATCH = 256
MICRO_BATCH = 8
TIME_BATCHES = [32, 256]


def cnn(normalization, accumulation=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        normalization(),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        normalization(),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ])
    model.compile(
        keras.optimizers.Adam(1e-3, gradient_accumulation_steps=accumulation),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


NORMALIZATIONS = {"BN": keras.layers.BatchNormalization,
                  "BlN": BatchlessNormalization}


def batch(size):
    rng = np.random.default_rng(size)
    return (rng.uniform(size=(size, 28, 28, 1)).astype("float32"),
            rng.integers(0, 10, size))


def step_memory_bytes(model, x, y):
    """One training step's memory on this backend (see the module
    docstring), or None where none is measured."""
    model.train_on_batch(x, y)  # builds the optimizer and metrics
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        state = tuple([v.value for v in variables] for variables in (
            model.trainable_variables, model.non_trainable_variables,
            model.optimizer.variables, model.metrics_variables))
        stats = jax.jit(model.train_step, donate_argnums=0).lower(
            state, (x, y)).compile().memory_analysis()
        return (stats.argument_size_in_bytes + stats.temp_size_in_bytes
                + stats.output_size_in_bytes - stats.alias_size_in_bytes)
    if backend == "torch":
        import torch

        storages = {}

        def pack(tensor):
            storage = tensor.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model.train_on_batch(x, y)
        return sum(storages.values())
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15,
                        help="timed steps per measurement (median taken)")
    args = parser.parse_args()
    print(f"backend={keras.config.backend()}  repeats={args.repeats}")

    accumulation = EFFECTIVE_BATCH // MICRO_BATCH
    bn = step_memory_bytes(cnn(NORMALIZATIONS["BN"]),
                           *batch(EFFECTIVE_BATCH))
    bln = step_memory_bytes(cnn(NORMALIZATIONS["BlN"], accumulation),
                            *batch(MICRO_BATCH))
    if bn is None:
        print("memory: not measured on this backend (no CPU allocator "
              "statistics)")
    else:
        print(f"memory of one step, effective batch {EFFECTIVE_BATCH}: "
              f"BN batch {EFFECTIVE_BATCH} {bn / 2**20:.1f} MiB, BlN "
              f"micro-batch {MICRO_BATCH} x {accumulation} accumulated "
              f"{bln / 2**20:.1f} MiB, ratio {bln / bn:.3f}")

    print(f"{'batch':>6} {'BN ms':>8} {'BlN ms':>8} {'BlN/BN':>7}")
    for size in TIME_BATCHES:
        x, y = batch(size)
        steps = {name: functools.partial(cnn(normalization).train_on_batch,
                                         x, y)
                 for name, normalization in NORMALIZATIONS.items()}
        base, ratios = interleaved_ratios(steps["BN"], {"BlN": steps["BlN"]},
                                          args.repeats)
        print(f"{size:>6} {1e3 * base:8.1f} {1e3 * base * ratios['BlN']:8.1f} "
              f"{ratios['BlN']:7.2f}", flush=True)


if __name__ == "__main__":
    main()
