"""Cost of RiemannianAdam, as ratios to Keras' Adam in the same run.

The paper setup of `langevin.py` (MLP 784-1000-10 on a 10,000-image
Fashion-MNIST subset, batch 128, one epoch = 79 steps):

1. Epoch time of `RiemannianAdam` with `Sphere(1.0)` (unit-norm units)
   and with `MagnitudeBound(0.05)` / `(0.1)` on both kernels, divided by
   the epoch time of Keras `Adam` on the same unconstrained model (target
   <= 1.3x).
2. Epoch time of `RiemannianAdam` with `Orthogonal()` on the 784 x 1000
   kernel divided by that of Keras `Adam` with the same constraint, which
   Keras applies as a projection after each step (target <= 1.0x).
3. Torch backend, when `geoopt` is installed (`pip install geoopt`): the
   `RiemannianAdam` + `Orthogonal` epoch of 2. divided by an epoch of
   geoopt's `RiemannianAdam` on `EuclideanStiefel` for the same model
   written in PyTorch, in the same process (target <= 1.0x).

Run: `KERAS_BACKEND=jax python benchmarks/riemannian.py [--repeats 5]`.
Ratios are the result; milliseconds are context only.
"""

import argparse

import keras
from timing import interleaved_ratios
from timing import report
from timing import one_epoch

import keras_constrained as kc


def mlp(first=None, second=None):
    init = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform",
                                              seed=0)
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(1000, activation="relu", kernel_initializer=init,
                           kernel_constraint=first),
        keras.layers.Dense(10, kernel_initializer=init,
                           kernel_constraint=second),
    ])


def data():
    (x, y), _ = kc.datasets.load_fashion_mnist()
    return (x[:10000].reshape(-1, 784).astype("float32") / 255.0,
            y[:10000])


def geoopt_epoch(x, y, batch_size=128):
    """One epoch of the same MLP in PyTorch, its first weight on geoopt's
    Stiefel manifold (`(1000, 784)`, orthonormal columns: the rows of the
    Keras kernel), trained by geoopt's RiemannianAdam."""
    import geoopt
    import torch

    torch.manual_seed(0)
    first, second = torch.nn.Linear(784, 1000), torch.nn.Linear(1000, 10)
    stiefel = geoopt.EuclideanStiefel()
    first.weight = geoopt.ManifoldParameter(
        stiefel.projx(first.weight.detach()), manifold=stiefel)
    model = torch.nn.Sequential(first, torch.nn.ReLU(), second)
    optimizer = geoopt.optim.RiemannianAdam(model.parameters(), lr=1e-3)
    x, y = torch.from_numpy(x), torch.from_numpy(y.astype("int64"))
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        for start in range(0, len(x), batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(x[start:start + batch_size]),
                           y[start:start + batch_size])
            loss.backward()
            optimizer.step()
        return float(loss)

    return epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    backend = keras.backend.backend()
    print(f"backend={backend}; medians of {args.repeats} interleaved rounds")
    x, y = data()
    adam = kc.optimizers.RiemannianAdam
    bound = kc.constraints.MagnitudeBound
    base, ratios = interleaved_ratios(
        one_epoch(mlp(), keras.optimizers.Adam(), x, y),
        {"RiemannianAdam + Sphere(1.0)": one_epoch(
            mlp(kc.constraints.Sphere(1.0), kc.constraints.Sphere(1.0)),
            adam(), x, y),
         "RiemannianAdam + MagnitudeBound(0.05), (0.1)": one_epoch(
             mlp(bound(0.05), bound(0.1)), adam(), x, y)},
        args.repeats)
    report("1. epoch time / Keras Adam, unconstrained", base, ratios)
    ours = one_epoch(mlp(kc.constraints.Orthogonal()), adam(), x, y)
    base, ratios = interleaved_ratios(
        one_epoch(mlp(kc.constraints.Orthogonal()), keras.optimizers.Adam(),
                  x, y),
        {"RiemannianAdam + Orthogonal": ours}, args.repeats)
    report("2. epoch time / Keras Adam + Orthogonal (projection)", base,
           ratios)
    if backend != "torch":
        return
    try:
        baseline = geoopt_epoch(x, y)
    except ImportError:
        print("\n3. skipped: geoopt is not installed")
        return
    base, ratios = interleaved_ratios(
        baseline, {"RiemannianAdam + Orthogonal (Keras fit)": ours},
        args.repeats)
    report("3. epoch time / geoopt RiemannianAdam + EuclideanStiefel "
           "(PyTorch loop)", base, ratios)


if __name__ == "__main__":
    main()
