"""Time to the first training step with `Orthogonal` kernels, as ratios.

The first step of `model.fit` traces and compiles the train step; for a deep
model with `kernel_constraint=Orthogonal()` on every kernel that compile
holds one projection (or, with a constraint-aware optimizer, one SHAKE step)
per kernel, each with its loops and fallbacks. A user waits for it before
anything trains, so it is a cost of the constraint of its own.

For each optimizer this times, on the current Keras backend, the wall time
from the start of `model.fit` to the end of the first batch (the callback
reads the batch's loss, so the step has finished) of a `--layers`-deep tanh
MLP of width `--width` (batch 64, MSE loss, default `jit_compile="auto"`),
built fresh after `keras.utils.clear_session()`:

* base: every kernel unconstrained (Keras' `Orthogonal` initializer);
* orthogonal: every kernel with `kernel_constraint=Orthogonal()`.

Optimizers: stock `keras.optimizers.SGD` (Keras projects after each step)
and `UnderdampedLangevin` (which lands each step on the set by SHAKE).
`ratio` = orthogonal / base; each time is the median of `--rounds` rounds,
each round timing base then orthogonal, after one warm-up fit of a small
model that pays the backend's one-time start-up.

Run (TensorFlow's rows take the longest):

    KERAS_BACKEND=jax python benchmarks/first_step.py
    KERAS_BACKEND=tensorflow python benchmarks/first_step.py
    KERAS_BACKEND=torch python benchmarks/first_step.py

Ratios are the result; seconds are context only (they include one step,
which is milliseconds here).
"""

import argparse
import statistics
import time

import keras
import numpy as np

import keras_constrained as kc

BATCH = 64
OPTIMIZERS = {
    "SGD": lambda: keras.optimizers.SGD(0.01),
    "UnderdampedLangevin": lambda: kc.optimizers.UnderdampedLangevin(
        0.01, friction=1.0, temperature=1e-4, seed=0),
}


class FirstBatchEnd(keras.callbacks.Callback):
    """Records when the first batch's step has finished."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            float(logs["loss"])  # waits for the step
            self.time = time.perf_counter()


def mlp(layers, width, constrained):
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((width,))] + [
        keras.layers.Dense(
            width, activation="tanh",
            kernel_initializer=keras.initializers.Orthogonal(),
            kernel_constraint=kc.constraints.Orthogonal() if constrained
            else None)
        for _ in range(layers)])


def first_step_seconds(make_optimizer, layers, width, constrained):
    model = mlp(layers, width, constrained)
    model.compile(make_optimizer(), "mse")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, width), dtype="float32")
    y = rng.standard_normal((BATCH, width), dtype="float32")
    end = FirstBatchEnd()
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[end])
    return end.time - start, model.jit_compile


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=1,
                        help="timed rounds per optimizer (median taken)")
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS),
                        choices=list(OPTIMIZERS))
    args = parser.parse_args()

    first_step_seconds(OPTIMIZERS["SGD"], 1, 8, True)  # backend start-up
    print(f"backend={keras.backend.backend()}  layers={args.layers}  "
          f"width={args.width}  batch={BATCH}  rounds={args.rounds}\n"
          "time from fit start to the end of the first batch; "
          "ratio = orthogonal / base")
    print(f"{'optimizer':>20} {'ratio':>7} {'base s':>8} {'orth s':>8}"
          " jit_compile")
    for name in args.optimizers:
        times = {False: [], True: []}
        for _ in range(args.rounds):
            for constrained in times:
                seconds, jit = first_step_seconds(
                    OPTIMIZERS[name], args.layers, args.width, constrained)
                times[constrained].append(seconds)
        base, orth = (statistics.median(times[c]) for c in (False, True))
        print(f"{name:>20} {orth / base:7.1f} {base:8.2f} {orth:8.2f} {jit}",
              flush=True)


if __name__ == "__main__":
    main()
