"""Cost of the `Hamiltonian` layer in the Fashion-MNIST tutorial's model.

Times, in one run on the current Keras backend, one training step
(`model.train_on_batch`, batch 100, Adam, sparse cross-entropy, compiled
with the default `jit_compile="auto"`) of these models, all
`Conv2D(8, 3) -> [block] -> Flatten -> Dense(10)` on 28x28x1 inputs:

* base: no block (conv + dense). Every ratio divides by this time.
* residual: the equal-size residual stack, `depth` blocks of width 8
  acting per pixel, `y + h tanh(W y + c)` (one `Dense(8, "tanh")`): the
  same width, depth and activation as the H-DNN, and like each H-DNN step
  one `8 x 8` kernel and one bias per block. An H1 step uses its kernel
  twice (`K^T act(K y + b)`), twice the multiply-adds of this block; H2's
  kernel `blockdiag(K_p, K_q)` has half the entries, used twice, as many
  as this block. A second `Dense` per block would make the H-DNN look
  cheaper than it is.
* H1 / H2: the `Hamiltonian` layer of the same depth, forward Euler and
  semi-implicit, with the tutorial's smoothness regularizer (`1e-3`).

The last column, H / residual, is the cost of the H-DNN against the
equal-size residual stack (the target is at most 1.5), the quotient of
the two columns before it. Each ratio is the median over `--repeats`
rounds, after one warm-up (compiling) step, of the step time over the base
step time of the same round (`timing.interleaved_ratios`), so that a
changing load on a shared machine affects both sides alike.

Run (a minute or two per backend on 2 CPU cores):

    KERAS_BACKEND=jax python benchmarks/hamiltonian.py
    KERAS_BACKEND=tensorflow python benchmarks/hamiltonian.py
    KERAS_BACKEND=torch python benchmarks/hamiltonian.py --depths 4
"""

import argparse

import keras
import numpy as np
from timing import interleaved_ratios

from keras_constrained.layers import Hamiltonian

BATCH = 100
WIDTH = 8
STEP_SIZE = 0.5
SMOOTHNESS = 1e-3  # tutorials/hamiltonian_fashion_mnist.py


def residual_stack(y, depth):
    # `y + h * step` on symbolic tensors: one multiplication and one
    # addition (`Rescaling` would add its zero offset in a third pass).
    for _ in range(depth):
        y = y + STEP_SIZE * keras.layers.Dense(WIDTH, activation="tanh")(y)
    return y


def make_model(block, depth):
    inputs = keras.Input((28, 28, 1))
    y = keras.layers.Conv2D(WIDTH, 3, padding="same")(inputs)
    if block == "residual":
        y = residual_stack(y, depth)
    elif block in ("forward_euler", "semi_implicit"):
        y = Hamiltonian(depth, STEP_SIZE, integrator=block,
                        smoothness_weight=SMOOTHNESS)(y)
    y = keras.layers.Dense(10)(keras.layers.Flatten()(y))
    model = keras.Model(inputs, y)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def train_step(block, depth):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(BATCH, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, BATCH)
    model = make_model(block, depth)
    # `train_on_batch` returns the loss as a Python float: it has waited.
    return lambda: model.train_on_batch(x, y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20,
                        help="timed steps per measurement (median taken)")
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 16],
                        help="depths of the residual stack and the H-DNN")
    args = parser.parse_args()

    print(f"backend={keras.backend.backend()}  batch={BATCH}  "
          f"width={WIDTH}  repeats={args.repeats}\n"
          "ratios = step time / base (conv + dense) step time")
    print(f"{'depth':>5} {'residual':>9} {'H1':>7} {'H2':>7} "
          f"{'H1/res':>7} {'H2/res':>7} {'base ms':>8}")
    for depth in args.depths:
        base, ratios = interleaved_ratios(
            train_step(None, depth),
            {block: train_step(block, depth)
             for block in ("residual", "forward_euler", "semi_implicit")},
            args.repeats)
        residual, h1, h2 = ratios.values()
        print(f"{depth:5d} {residual:9.2f} {h1:7.2f} {h2:7.2f} "
              f"{h1 / residual:7.2f} {h2 / residual:7.2f} {1e3 * base:8.2f}",
              flush=True)


if __name__ == "__main__":
    main()
