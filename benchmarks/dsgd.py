"""Cost of a DSGD step, as a ratio to Keras `SGD` on the same model.

Epoch time of `model.fit` on 10,000 Fashion-MNIST images (batch 128, 79
steps) with a tanh MLP 784-256-256-10, for DSGD with each layer norm,
divided by the epoch time of `keras.optimizers.SGD` on the same model,
measured in the same run. Keras' `Muon` is shown for context: it also
orthogonalizes gradients, but of every layer at every step.

The last row is a floor for the spectral norm: an SGD epoch plus only the
dual norms (nuclear norms) of the three layers' gradients at each of the 79
steps, which the exact greedy choice needs, computed as DSGD computes them
(`layer_norms.Spectral().dual_norm`) on random matrices of the layers'
shapes and of rank 128 (a batch-128 gradient's rank), compiled as Keras compiles a train
step. No spectral DSGD step that scores layers this way is faster.

DSGD's extra work per step depends on the layers' shapes, not on the batch,
while SGD's grows with the batch: a second table gives the spectral norm's
ratio at larger batches, up to the full batch of the paper's deterministic
analysis (one step per epoch).

Run: `KERAS_BACKEND=jax python benchmarks/dsgd.py [--repeats 5]`.
Ratios are the result; milliseconds are context only.
"""

import argparse

import keras
import numpy as np
from keras import ops
from timing import compiled
from timing import interleaved_ratios
from timing import one_epoch

import keras_constrained as kc
from keras_constrained.optimizers import layer_norms

STEPS = 79  # batches of 128 in 10,000 images


def mlp():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(256, activation="tanh"),
        keras.layers.Dense(256, activation="tanh"),
        keras.layers.Dense(10),
    ])


def spectral_dual_norms(steps=STEPS, rank=128):
    """A function computing the nuclear norms of the MLP's three layer
    gradients (kernel with its bias row) `steps` times, as DSGD does."""
    rng = np.random.default_rng(0)
    gradients = [
        ops.convert_to_tensor((rng.standard_normal((rows, rank))
                               @ rng.standard_normal((rank, columns))
                               ).astype("float32"))
        for rows, columns in [(785, 256), (257, 256), (257, 10)]]
    norms = compiled(lambda *gs: ops.stack(
        [layer_norms.Spectral().dual_norm(g)[0] for g in gs]))

    def run():
        for _ in range(steps):
            ops.convert_to_numpy(norms(*gradients))

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"backend={keras.backend.backend()}")
    (x, y), _ = kc.datasets.load_fashion_mnist()
    x = x[:10000].reshape(-1, 784).astype("float32") / 255.0
    y = y[:10000]
    rows = {
        "DSGD frobenius": kc.optimizers.DSGD(0.5, smoothness=1.0,
                                             norm="frobenius"),
        "DSGD spectral": kc.optimizers.DSGD(0.5, smoothness=1.0,
                                            norm="spectral"),
        "DSGD spectral, architecture scale":
            kc.optimizers.DSGD(0.5, smoothness=1.0, norm="spectral",
                                 scale="architecture"),
        "Muon (Keras)": keras.optimizers.Muon(0.01),
    }
    candidates = {name: one_epoch(mlp(), optimizer, x, y)
                  for name, optimizer in rows.items()}
    candidates["dual norms"] = spectral_dual_norms()
    base, ratios = interleaved_ratios(
        one_epoch(mlp(), keras.optimizers.SGD(0.1), x, y), candidates,
        args.repeats)
    floor = 1.0 + ratios.pop("dual norms")
    print(f"epoch time / SGD epoch ({base * 1e3:.0f} ms), {STEPS} steps of "
          f"batch 128, MLP 784-256-256-10; median of {args.repeats} "
          "interleaved rounds")
    for name, ratio in ratios.items():
        print(f"   {name:44s} {ratio:6.2f}")
    floor_name = "floor: SGD + every layer's nuclear norm"
    print(f"   {floor_name:44s} {floor:6.2f}")
    print("DSGD spectral epoch time / SGD epoch at the same batch size")
    for batch_size in (1024, 4096, len(x)):
        base, ratios = interleaved_ratios(
            one_epoch(mlp(), keras.optimizers.SGD(0.1), x, y, batch_size),
            {"spectral": one_epoch(mlp(), kc.optimizers.DSGD(
                0.5, smoothness=1.0, norm="spectral"), x, y, batch_size)},
            args.repeats)
        steps = -(-len(x) // batch_size)
        print(f"   batch {batch_size:5d}, {steps:2d} step(s) per epoch (SGD "
              f"{base * 1e3:4.0f} ms) {ratios['spectral']:13.2f}")


if __name__ == "__main__":
    main()
