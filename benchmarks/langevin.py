"""Cost of the constrained Langevin optimizers, as ratios to baselines.

1. Epoch time of the paper's Fashion-MNIST setup (MLP 784-1000-10 on a
   10,000-image subset, batch 128, `MagnitudeBound(0.05)` / `(0.1)`,
   `UnderdampedLangevin(0.3, friction=1.0)`) divided by the epoch time of
   Keras `SGD` with the equivalent momentum on the same unconstrained model
   (`lr = h^2 (1 + mu) / 2`, `mu = exp(-gamma h)`). Also shown: the same
   integrator without constraints, and OverdampedLangevin with them.
2. Time of `Orthogonal`'s SHAKE landing (`shake`: the multiplier solved in
   the p x p space, stopping at the tolerance) and of the whole position
   step (`move`: landing plus RATTLE velocity) divided by the reference
   scheme, a fixed 10-iteration SHAKE on the full matrix (Leimkuhler et
   al.'s code), for a tangent step of relative size 1e-2, all compiled as
   train steps are. The `viol` columns show both land equally well.

Run: `KERAS_BACKEND=jax python benchmarks/langevin.py [--repeats 5]`.
Ratios are the result; milliseconds are context only.
"""

import argparse
import math

import keras
import numpy as np
from keras import ops
from timing import compiled
from timing import interleaved_ratios
from timing import median_seconds
from timing import one_epoch

import keras_constrained as kc
from keras_constrained.constraints.orthogonal import shake


def mlp(constrained):
    init = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform",
                                              seed=0)
    bound = kc.constraints.MagnitudeBound
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(1000, activation="relu", kernel_initializer=init,
                           kernel_constraint=bound(0.05) if constrained
                           else None),
        keras.layers.Dense(10, kernel_initializer=init,
                           kernel_constraint=bound(0.1) if constrained
                           else None),
    ])


def epoch_table(repeats):
    (x, y), _ = kc.datasets.load_fashion_mnist()
    x = x[:10000].reshape(-1, 784).astype("float32") / 255.0
    y = y[:10000]
    h, gamma = 0.3, 1.0
    mu = math.exp(-gamma * h)
    underdamped = kc.optimizers.UnderdampedLangevin
    base, ratios = interleaved_ratios(
        one_epoch(mlp(False), keras.optimizers.SGD(h * h * (1 + mu) / 2,
                                                   momentum=mu), x, y),
        {"UnderdampedLangevin + MagnitudeBound":
             one_epoch(mlp(True), underdamped(h, friction=gamma), x, y),
         "UnderdampedLangevin, unconstrained":
             one_epoch(mlp(False), underdamped(h, friction=gamma), x, y),
         "OverdampedLangevin + MagnitudeBound":
             one_epoch(mlp(True), kc.optimizers.OverdampedLangevin(0.1), x,
                       y)},
        repeats)
    print(f"\n1. epoch time / SGD(momentum={mu:.3f}) epoch "
          f"({base * 1e3:.0f} ms), 79 steps of batch 128; median of "
          f"{repeats} interleaved rounds")
    for name, ratio in ratios.items():
        print(f"   {name:40s} {ratio:6.2f}")


def reference_shake(w, displacement):
    """The reference scheme: 10 SHAKE iterations on the full n x p matrix."""
    eye = ops.diag(ops.ones((w.shape[1],)))
    p = w + displacement
    for _ in range(10):
        p = p - 0.5 * ops.matmul(w, ops.matmul(ops.transpose(p), p) - eye)
    return p


def shake_table(repeats):
    constraint = kc.constraints.Orthogonal()
    print("\n2. time / fixed 10-iteration SHAKE on the full matrix "
          "(relative step 1e-2)")
    print(f"   {'kernel':>10} {'shake':>7} {'move':>7} {'ref ms':>8}"
          f" {'viol ref':>9} {'viol ours':>9}")
    for shape in [(4608, 512), (1000, 784)]:
        rng = np.random.default_rng(0)
        w = constraint(rng.normal(size=shape).astype("float32"))
        v = constraint.tangent(w, rng.normal(size=shape).astype("float32"))
        v = v * (1e-2 * float(ops.norm(w)) / float(ops.norm(v)))
        ref = compiled(reference_shake)
        ours = compiled(lambda w, d: shake(w, d, 1e-7, 30)[0])
        step = compiled(lambda w, v: constraint.move(w, v, 1.0))
        t_ref = median_seconds(lambda: ops.convert_to_numpy(ref(w, v)),
                               repeats)
        t_ours = median_seconds(lambda: ops.convert_to_numpy(ours(w, v)),
                                repeats)
        t_move = median_seconds(
            lambda: [ops.convert_to_numpy(t) for t in step(w, v)], repeats)
        print(f"   {'x'.join(map(str, shape)):>10} {t_ours / t_ref:7.2f}"
              f" {t_move / t_ref:7.2f} {t_ref * 1e3:8.1f}"
              f" {float(constraint.violation(ref(w, v))):9.1e}"
              f" {float(constraint.violation(ours(w, v))):9.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"backend={keras.backend.backend()}")
    epoch_table(args.repeats)
    shake_table(5 * args.repeats)


if __name__ == "__main__":
    main()
