"""Cost of the `Orthogonal` constraint, in plain Dense training steps.

For each kernel shape `(in, out)` this times, in one run on the current Keras
backend:

* base: one training step of `Input(in) -> Dense(out)` (batch 128, MSE loss,
  stock `keras.optimizers.SGD`, `model.train_on_batch` on a model compiled
  with the default `jit_compile="auto"`). Every ratio is a time divided by
  this one.
* project: one `Orthogonal()(w)`, the polar projection, of an orthogonal
  kernel moved by the velocity below (near the set: Newton-Schulz branch).
* project far: the same of a Gaussian random kernel (far from the set: the
  SVD branch).
* move: one `Orthogonal().move(w, v, 1.0)`, the constrained position step
  (SHAKE landing plus RATTLE velocity), from an orthogonal kernel with a
  random tangent velocity `v` of norm 1e-2 ||w||.
* c-step: the base training step with `kernel_constraint=Orthogonal()`:
  stock optimizers project after every step, so this is what the constraint
  costs a user of a stock optimizer.
* ud-step: the same training step with `UnderdampedLangevin(1e-4)` (the
  package's constrained heavy-ball at temperature 0: a tangent projection
  of the gradient and BAOAB's two SHAKE-RATTLE half moves) in place of
  stock SGD and its projection; `ud/c` is its time over c-step's, the cost
  of the constrained dynamics against the projected stock step, and
  `oba/c` the same for `scheme="OBA"` (one move per step).

The constraint ops are compiled as they run inside an optimizer's update (see
`timing.compiled`). Each time is the median of `--repeats` calls
after one warm-up call, and every timed call ends by converting its result to
NumPy, so asynchronous work is included.

Run (about 2 minutes per backend on 2 CPU cores):

    KERAS_BACKEND=jax python benchmarks/constraints.py
    KERAS_BACKEND=tensorflow python benchmarks/constraints.py --repeats 9
    KERAS_BACKEND=torch python benchmarks/constraints.py --shapes 4608x512

The 4096x4096 row takes several minutes more on such a machine (each of
its matrix products is 10^11 multiply-adds).

Reading the table: a ratio of 5.0 means the operation takes as long as five
plain training steps of that layer; `c-step` minus 1 is the per-step
overhead of the projection. Ratios, not milliseconds, are the
result: they compare across machines and backends, while `base ms` is only
context. `viol` columns are `max|W^T W - I|` after the projection and after
the move, a sanity check (about 1e-6 in float32).
"""

import argparse

import keras
import numpy as np
from keras import ops
from timing import compiled
from timing import median_seconds

from keras_constrained.constraints import Orthogonal
from keras_constrained.optimizers import UnderdampedLangevin

BATCH = 128
SHAPES = ["784x1000", "1000x1000", "4608x512", "4096x4096"]


def dense_model(shape, constraint, optimizer):
    model = keras.Sequential([
        keras.Input((shape[0],)),
        keras.layers.Dense(
            shape[1], kernel_initializer=keras.initializers.Orthogonal(),
            kernel_constraint=constraint),
    ])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def train_step_ms(shape, constraint, repeats, optimizer=None):
    """Median ms of one `train_on_batch` (stock SGD unless `optimizer` is
    given), and the model's `jit_compile`."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, shape[0]), dtype="float32")
    y = rng.standard_normal((BATCH, shape[1]), dtype="float32")
    model = dense_model(shape, constraint,
                        optimizer or keras.optimizers.SGD())
    # `train_on_batch` returns the loss as a Python float: it has waited.
    ms = 1e3 * median_seconds(lambda: model.train_on_batch(x, y), repeats)
    return ms, model.jit_compile


def benchmark(shape, repeats):
    """One table row: base ms, the six ratios and two violations."""
    base, jit_compile = train_step_ms(shape, None, repeats)
    constrained, _ = train_step_ms(shape, Orthogonal(), repeats)
    langevin, _ = train_step_ms(shape, Orthogonal(), repeats,
                                UnderdampedLangevin(1e-4))
    oba, _ = train_step_ms(shape, Orthogonal(), repeats,
                           UnderdampedLangevin(1e-4, scheme="OBA"))

    c = Orthogonal()
    w = keras.initializers.Orthogonal(seed=0)(shape)
    v = c.tangent(w, keras.random.normal(shape, seed=1))
    v = v * (1e-2 * ops.norm(w) / ops.norm(v))
    moved_off = w + v
    project = compiled(c, jit_compile)
    move = compiled(lambda w, v: c.move(w, v, 1.0), jit_compile)
    far = keras.random.normal(shape, seed=2)
    project_ms = 1e3 * median_seconds(
        lambda: ops.convert_to_numpy(project(moved_off)), repeats)
    far_ms = 1e3 * median_seconds(
        lambda: ops.convert_to_numpy(project(far)), repeats)
    move_ms = 1e3 * median_seconds(
        lambda: [ops.convert_to_numpy(t) for t in move(w, v)], repeats)

    return (base, project_ms / base, far_ms / base, move_ms / base,
            constrained / base, langevin / base, langevin / constrained,
            oba / constrained,
            float(c.violation(project(moved_off))),
            float(c.violation(move(w, v)[0])), jit_compile)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed calls per measurement (median taken)")
    parser.add_argument("--shapes", nargs="+", default=SHAPES,
                        metavar="INxOUT", help="Dense kernel shapes")
    args = parser.parse_args()

    print(f"backend={keras.backend.backend()}  batch={BATCH}  "
          f"repeats={args.repeats}\n"
          "ratios = time / one plain SGD train step (base); "
          "c-step = that step with kernel_constraint=Orthogonal(); "
          "ud-step = with UnderdampedLangevin(1e-4) instead")
    print(f"{'kernel':>10} {'project':>8} {'far':>8} {'move':>8}"
          f" {'c-step':>8} {'ud-step':>8} {'ud/c':>6} {'oba/c':>6}"
          f" {'viol proj':>10} {'viol move':>10} {'base ms':>8} jit_compile")
    for text in args.shapes:
        shape = tuple(int(n) for n in text.split("x"))
        (base, project, far, move, constrained, langevin, ud_over_c,
         oba_over_c, vp, vm, jit) = benchmark(shape, args.repeats)
        print(f"{text:>10} {project:8.2f} {far:8.2f} {move:8.2f}"
              f" {constrained:8.2f} {langevin:8.2f} {ud_over_c:6.2f}"
              f" {oba_over_c:6.2f}"
              f" {vp:10.1e} {vm:10.1e} {base:8.2f} {jit}", flush=True)


if __name__ == "__main__":
    main()
