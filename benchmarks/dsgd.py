"""Cost of a DSGD step, as a ratio to Keras `SGD` on the same model.

Epoch time of `model.fit` on 10,000 Fashion-MNIST images (batch 128, 79
steps) with a tanh MLP 784-256-256-10, for DSGD with each layer norm,
divided by the epoch time of `keras.optimizers.SGD` on the same model,
measured in the same run. Keras' `Muon` is shown for context: it also
orthogonalizes gradients, but of every layer at every step.

Run: `KERAS_BACKEND=jax python benchmarks/dsgd.py [--repeats 3]`.
Ratios are the result; milliseconds are context only.
"""

import argparse

import keras
from timing import median_seconds

import keras_constrained as kc


def mlp():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(256, activation="tanh"),
        keras.layers.Dense(256, activation="tanh"),
        keras.layers.Dense(10),
    ])


def epoch_seconds(optimizer, x, y, repeats):
    model = mlp()
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    return median_seconds(
        lambda: model.fit(x, y, batch_size=128, epochs=1, verbose=0),
        repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"backend={keras.backend.backend()}")
    (x, y), _ = kc.datasets.load_fashion_mnist()
    x = x[:10000].reshape(-1, 784).astype("float32") / 255.0
    y = y[:10000]
    base = epoch_seconds(keras.optimizers.SGD(0.1), x, y, args.repeats)
    rows = [
        ("DSGD frobenius", kc.optimizers.DSGD(0.5, norm="frobenius")),
        ("DSGD spectral", kc.optimizers.DSGD(0.5, norm="spectral")),
        ("DSGD spectral, architecture scale",
         kc.optimizers.DSGD(0.5, norm="spectral", scale="architecture")),
        ("Muon (Keras)", keras.optimizers.Muon(0.01)),
    ]
    print(f"epoch time / SGD epoch ({base * 1e3:.0f} ms), 79 steps of "
          "batch 128, MLP 784-256-256-10")
    for name, optimizer in rows:
        seconds = epoch_seconds(optimizer, x, y, args.repeats)
        print(f"   {name:36s} {seconds / base:6.2f}")


if __name__ == "__main__":
    main()
