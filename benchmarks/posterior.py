"""Cost of the Bayesian workflow inside `fit`, as ratios in the same run.

The model of the posterior tutorial (MLP 784-256-10, relu, logits) on
10,000 Fashion-MNIST training images, batch 128 (79 steps per epoch),
trained by `UnderdampedLangevin(0.3, temperature=1e-4)`:

1. Epoch time of `fit` with a `PosteriorSampler(every=79)` (one sample
   kept in memory per epoch) divided by the same epoch without the
   callback (target <= 1.05: at most 5% overhead).
2. `PosteriorEnsemble(model, 20 members).predict` on the 10,000 test
   images divided by 20 single-model predictions of them (for each
   member, `model.set_weights` then `model.predict`, as a user would
   evaluate 20 samples by hand), both at Keras' default batch size
   (target <= 0.5: the members run as one vectorized computation).

Run: `KERAS_BACKEND=jax python benchmarks/posterior.py [--repeats 5]`.
Ratios are the result; milliseconds are context only.
"""

import argparse

import keras
import numpy as np
from timing import interleaved_ratios
from timing import one_epoch
from timing import report

import keras_constrained as kc

MEMBERS = 20


def mlp():
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(10),
    ])


def data():
    (x, y), (x_test, _) = kc.datasets.load_fashion_mnist()
    return (x[:10000].reshape(-1, 784).astype("float32") / 255.0, y[:10000],
            x_test.reshape(-1, 784).astype("float32") / 255.0)


def epoch(x, y, callbacks):
    """A function that trains one model of its own, with `callbacks`, for
    one more epoch per call."""
    return one_epoch(mlp(), kc.optimizers.UnderdampedLangevin(
        0.3, temperature=1e-4, seed=0), x, y, callbacks=callbacks)


def members(model, count):
    """`count` weight lists near the model's (stand-ins for samples)."""
    rng = np.random.default_rng(0)
    return [[w + 0.01 * rng.standard_normal(w.shape).astype(w.dtype)
             for w in model.get_weights()] for _ in range(count)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"backend={keras.backend.backend()}; medians of {args.repeats} "
          "interleaved rounds")
    x, y, x_test = data()
    steps = -(-len(x) // 128)
    sampler = kc.callbacks.PosteriorSampler(every=steps, max_samples=10**6)
    base, ratios = interleaved_ratios(
        epoch(x, y, []),
        {"with PosteriorSampler(every=79)": epoch(x, y, [sampler])},
        args.repeats)
    report("1. epoch time / the same epoch without the sampler", base,
           ratios)
    print(f"   (the sampler kept {len(sampler)} samples)")

    model = mlp()
    weights = members(model, MEMBERS)
    ensemble = kc.models.PosteriorEnsemble(model, weights, from_logits=True)

    def one_by_one():
        for member in weights:
            model.set_weights(member)
            model.predict(x_test, verbose=0)

    base, ratios = interleaved_ratios(
        one_by_one,
        {f"PosteriorEnsemble({MEMBERS} members).predict":
         lambda: ensemble.predict(x_test, verbose=0)},
        args.repeats)
    report(f"2. prediction time / {MEMBERS} single-model predictions", base,
           ratios)


if __name__ == "__main__":
    main()
