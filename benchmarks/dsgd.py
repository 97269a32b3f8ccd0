"""Cost of a DSGD step, as a ratio to Keras `SGD` on the same model.

Epoch time of `model.fit` on 10,000 Fashion-MNIST images (batch 128, 79
steps) with a tanh MLP 784-256-256-10, for DSGD with each layer norm,
divided by the epoch time of `keras.optimizers.SGD` on the same model,
measured in the same run. Keras' `Muon` is shown for context: it also
orthogonalizes gradients, but of every layer at every step.

Run: `KERAS_BACKEND=jax python benchmarks/dsgd.py [--repeats 5]`.
Ratios are the result; milliseconds are context only.
"""

import argparse

import keras
from timing import interleaved_ratios
from timing import one_epoch

import keras_constrained as kc


def mlp():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(256, activation="tanh"),
        keras.layers.Dense(256, activation="tanh"),
        keras.layers.Dense(10),
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"backend={keras.backend.backend()}")
    (x, y), _ = kc.datasets.load_fashion_mnist()
    x = x[:10000].reshape(-1, 784).astype("float32") / 255.0
    y = y[:10000]
    rows = {
        "DSGD frobenius": kc.optimizers.DSGD(0.5, norm="frobenius"),
        "DSGD spectral": kc.optimizers.DSGD(0.5, norm="spectral"),
        "DSGD spectral, architecture scale":
            kc.optimizers.DSGD(0.5, norm="spectral", scale="architecture"),
        "Muon (Keras)": keras.optimizers.Muon(0.01),
    }
    base, ratios = interleaved_ratios(
        one_epoch(mlp(), keras.optimizers.SGD(0.1), x, y),
        {name: one_epoch(mlp(), optimizer, x, y)
         for name, optimizer in rows.items()},
        args.repeats)
    print(f"epoch time / SGD epoch ({base * 1e3:.0f} ms), 79 steps of "
          f"batch 128, MLP 784-256-256-10; median of {args.repeats} "
          "interleaved rounds")
    for name, ratio in ratios.items():
        print(f"   {name:36s} {ratio:6.2f}")


if __name__ == "__main__":
    main()
