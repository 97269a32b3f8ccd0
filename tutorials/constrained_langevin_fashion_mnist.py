"""
Title: The circle constraint with underdamped Langevin dynamics on Fashion-MNIST
Author: keras-constrained contributors
Date created: 2026/11/23
Last modified: 2026/12/02
Description: The paper's Fashion-MNIST MLP: `MagnitudeBound` + `UnderdampedLangevin` (c-CoLA-ud) against the same integrator unconstrained and against Keras SGD, over enough epochs to overfit.
Accelerator: None
"""

"""
## Introduction

Leimkuhler, Vlaar, Pouchon and Storkey ("Better training using
weight-constrained stochastic dynamics", ICML 2021, arXiv:2106.10704) train
an MLP 784-1000-10 on 10,000 Fashion-MNIST images with *c-CoLA-ud*:
underdamped Langevin dynamics (a BAOAB splitting) in which every weight `w`
is held on a circle `w**2 + xi**2 = r**2`, so that `|w| <= r` at every step,
with radius `r = 0.05` in the first layer and `0.1` in the second, step size
`h = 0.3`, friction `gamma = 1`, temperature 0 and batch size 128. Their
claim: without the constraint the network overfits the small training set
(its test loss rises over the epochs), with it much less.

In Keras that is one constraint per kernel and one optimizer:

```python
keras.layers.Dense(1000, kernel_constraint=kc.constraints.MagnitudeBound(0.05))
optimizer = kc.optimizers.UnderdampedLangevin(0.3, friction=1.0)
```

We compare three runs from the same initial weights:

1. **c-CoLA-ud**: `UnderdampedLangevin(0.3, friction=1.0)` with the
   `MagnitudeBound` constraints;
2. **unconstrained CoLA-ud**: the same optimizer on the same model without
   the constraints;
3. **Keras SGD** with the heavy-ball settings that
   `UnderdampedLangevin`'s docstring maps `h = 0.3, gamma = 1` to:
   `momentum = exp(-gamma h) = 0.741` and
   `learning_rate = h**2 (1 + momentum) / 2 = 0.078`. At temperature 0
   and without constraints, run 2 takes exactly these steps, so runs 2 and
   3 should give the same curves up to float rounding: a check of the
   mapping on a real model.
"""

"""
## Setup

The script needs only Keras, one of its backends (JAX, TensorFlow or
PyTorch), NumPy and matplotlib. It runs on the backend Keras is configured
with (the `KERAS_BACKEND` environment variable, else `~/.keras/keras.json`)
and prints it. It writes its plots as PNG files into the current directory.
"""

import math
import time

import matplotlib

matplotlib.use("Agg")  # write PNG files, show nothing
import matplotlib.pyplot as plt
import numpy as np

import keras
import keras_constrained as kc

print("Keras", keras.__version__, "with the", keras.config.backend(),
      "backend")

"""
The paper's settings, the number of epochs and the seeds. The paper trains
for 400 epochs; 60 are enough here for the unconstrained runs' test loss to
pass its minimum and climb (see the results at the end). A seed chooses the
random training subset, the initial weights and the batch order; each of
the three runs uses the same ones for a given seed. Three seeds take about
three times as long as one: set `SEEDS = [0]` for a quicker look. When
`KERAS_MAX_STEPS_PER_EPOCH` is set (a smoke run: Keras caps every epoch at
that many steps, `KERAS_MAX_EPOCHS` caps the epochs), the script uses 512
training and 512 test images and 100 hidden units instead of 1000: it
checks the code, not the numbers.
"""

BATCH_SIZE = 128
STEP_SIZE = 0.3  # h
FRICTION = 1.0  # gamma
RADII = (0.05, 0.1)
EPOCHS = 60
MOMENTUM = math.exp(-FRICTION * STEP_SIZE)
SGD_LEARNING_RATE = STEP_SIZE**2 * (1 + MOMENTUM) / 2
SMOKE_TEST = bool(keras.config.max_steps_per_epoch())
N_TRAIN = 512 if SMOKE_TEST else 10_000
N_TEST = 512 if SMOKE_TEST else 60_000
HIDDEN_UNITS = 100 if SMOKE_TEST else 1000
SEEDS = [0] if SMOKE_TEST else [0, 1, 2]

"""
## The data

As in the paper, the 10,000 training images are a random subset (one per
seed) of the 60,000 in Fashion-MNIST's training split, and the test set is
everything else: the other 50,000 training images and the 10,000 of the
test split, which makes the test curves smooth. The pixels are scaled to
[0, 1] and flattened; there is no other preprocessing.

`kc.datasets.load_fashion_mnist()` returns NumPy arrays like
`keras.datasets.fashion_mnist.load_data()`, read from the local copy of the
original files in Debian's `dataset-fashion-mnist` package where it is
installed (no network needed), downloaded otherwise.
"""

(x_all, y_all), (x_official_test, y_official_test) = (
    kc.datasets.load_fashion_mnist())
x_all = x_all.reshape(-1, 784).astype("float32") / 255.0
x_official_test = x_official_test.reshape(-1, 784).astype("float32") / 255.0


def split(seed):
    """The training subset of `seed` and the test set: everything else."""
    shuffled = np.random.default_rng(seed).permutation(len(x_all))
    train, rest = shuffled[:N_TRAIN], shuffled[N_TRAIN:]
    x_test = np.concatenate([x_all[rest], x_official_test])[:N_TEST]
    y_test = np.concatenate([y_all[rest], y_official_test])[:N_TEST]
    return (x_all[train], y_all[train]), (x_test, y_test)


class ShuffledBatches(keras.utils.PyDataset):
    """The training set in batches, reshuffled after every epoch by its own
    seeded generator. A fresh one per run, so that every run of a seed sees
    the same batches in the same order, whatever the backend does with its
    global random state."""

    def __init__(self, x, y, seed):
        super().__init__()
        self.x, self.y = x, y
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return -(-len(self.x) // BATCH_SIZE)

    def __getitem__(self, index):
        batch = self.order[index * BATCH_SIZE:(index + 1) * BATCH_SIZE]
        return self.x[batch], self.y[batch]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


"""
## The model

The paper's MLP with PyTorch's default initialization (uniform in
`+-1/sqrt(fan_in)`, `VarianceScaling(1/3, "fan_in", "uniform")` in Keras),
which starts inside both bounds: `1/sqrt(784) = 0.036 < 0.05` and
`1/sqrt(1000) = 0.032 < 0.1`. The biases are not constrained.
"""


def make_model(constrained, seed):
    keras.utils.set_random_seed(seed)  # the same start for every run
    init = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")
    bounds = [kc.constraints.MagnitudeBound(r) if constrained else None
              for r in RADII]
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden",
                           kernel_initializer=init,
                           kernel_constraint=bounds[0]),
        keras.layers.Dense(10, name="logits", kernel_initializer=init,
                           kernel_constraint=bounds[1]),
    ])


RUNS = {
    "c-CoLA-ud (MagnitudeBound)": (True, lambda: kc.optimizers.
                                   UnderdampedLangevin(STEP_SIZE,
                                                       friction=FRICTION)),
    "CoLA-ud, unconstrained": (False, lambda: kc.optimizers.
                               UnderdampedLangevin(STEP_SIZE,
                                                   friction=FRICTION)),
    f"Keras SGD(momentum={MOMENTUM:.3f})": (False, lambda: keras.optimizers.
                                            SGD(SGD_LEARNING_RATE,
                                                momentum=MOMENTUM)),
}

"""
## Training

Each run evaluates the test set after every epoch through
`validation_data`. `kc.callbacks.ConstraintMonitor` logs the largest
`violation` of any constrained kernel (for `MagnitudeBound`, the relative
excess `max|w| / r - 1`, zero inside the bound) at every epoch.
"""

histories, seconds, train_accuracy, max_ratio, kernels = {}, {}, {}, {}, {}
for seed in SEEDS:
    (x_train, y_train), (x_test, y_test) = split(seed)
    for name, (constrained, make_optimizer) in RUNS.items():
        model = make_model(constrained, seed)
        model.compile(
            optimizer=make_optimizer(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"])
        start = time.perf_counter()
        history = model.fit(ShuffledBatches(x_train, y_train, seed),
                            validation_data=(x_test, y_test),
                            validation_batch_size=2000, epochs=EPOCHS,
                            verbose=0,
                            callbacks=[kc.callbacks.ConstraintMonitor()])
        key = (name, seed)
        seconds[key] = time.perf_counter() - start
        histories[key] = h = history.history
        train_accuracy[key] = model.evaluate(
            x_train, y_train, batch_size=2000, verbose=0,
            return_dict=True)["accuracy"]
        weights = [keras.ops.convert_to_numpy(layer.kernel)
                   for layer in model.layers]
        max_ratio[key] = [float(np.abs(w).max()) / r
                          for w, r in zip(weights, RADII)]
        if seed == SEEDS[0]:
            kernels[name] = weights[0].ravel()
        print(f"seed {seed} {name:>28}: {len(h['loss'])} epochs in "
              f"{seconds[key]:5.1f} s, final test loss "
              f"{h['val_loss'][-1]:.4f}, test accuracy "
              f"{h['val_accuracy'][-1]:.4f}", flush=True)

"""
## Curves

Training loss (the running mean that `fit` logs), test loss and test
accuracy per epoch, one line per seed.
"""

fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
for (name, seed), h in histories.items():
    epochs = np.arange(1, len(h["loss"]) + 1)
    style = "--" if name.startswith("Keras") else "-"
    color = "C" + str(list(RUNS).index(name))
    for ax, key in zip(axes, ["loss", "val_loss", "val_accuracy"]):
        ax.plot(epochs, h[key], style, color=color, linewidth=1,
                label=name if seed == SEEDS[0] else None)
for ax, title in zip(axes, ["training loss", "test loss", "test accuracy"]):
    ax.set(xlabel="epoch", title=title)
    ax.grid(alpha=0.3)
axes[0].set_yscale("log")
axes[2].legend()
fig.suptitle(f"Fashion-MNIST MLP 784-{HIDDEN_UNITS}-10, "
             f"{N_TRAIN} training images, "
             f"h={STEP_SIZE}, gamma={FRICTION}, batch {BATCH_SIZE}, "
             f"{keras.config.backend()} backend")
fig.tight_layout()
fig.savefig("langevin_fashion_mnist_curves.png", dpi=120)
plt.close(fig)

"""
![curves](langevin_fashion_mnist_curves.png)

## Where the weights went

The first kernel's weights after training (seed 0). Under the circle
dynamics a weight near the bound feels a force scaled by `cos(s / r)`,
which vanishes at `|w| = r`: the weights pile up towards the bound without
crossing it.
"""

fig, ax = plt.subplots(figsize=(7, 4.5))
weights = {name: w for name, w in kernels.items()
           if not name.startswith("Keras")}
limit = max(float(np.abs(w).max()) for w in weights.values())
bins = np.linspace(-limit, limit, 161)
for name, w in weights.items():
    ax.hist(w, bins=bins, alpha=0.6, label=name)
for x in (-RADII[0], RADII[0]):
    ax.axvline(x, color="black", linestyle="--", linewidth=1)
ax.set_yscale("log")
ax.set(xlabel="weight", ylabel="count",
       title=f"First-kernel weights after training (bound +-{RADII[0]} "
             "dashed)")
ax.legend()
fig.tight_layout()
fig.savefig("langevin_fashion_mnist_weights.png", dpi=120)
plt.close(fig)

"""
![weights](langevin_fashion_mnist_weights.png)

## Summary

Each cell is the mean ± standard deviation over the seeds, with the
smallest and largest value in brackets. The training accuracy is evaluated
on the whole training subset after training. "best epoch" is the epoch of
the lowest test loss, "rise" the final test loss minus the lowest one (how
much the run overfits after its best epoch). "max |w| / r" is each
kernel's largest weight over its radius (0.05 and 0.1 for all runs; the
largest over seeds).
"""


def cell(values, digits=4):
    return (f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


print(f"\n{keras.config.backend()} backend, seeds {SEEDS}: "
      "mean ± std (min-max)")
for column, values in [
        ("train acc", lambda k: train_accuracy[k]),
        ("test acc", lambda k: histories[k]["val_accuracy"][-1]),
        ("best test loss", lambda k: min(histories[k]["val_loss"])),
        ("best epoch", lambda k: 1 + int(np.argmin(histories[k]["val_loss"]))),
        ("final test loss", lambda k: histories[k]["val_loss"][-1]),
        ("rise", lambda k: histories[k]["val_loss"][-1]
         - min(histories[k]["val_loss"])),
        ("s/epoch", lambda k: seconds[k] / len(histories[k]["loss"]))]:
    print(column)
    for name in RUNS:
        digits = 1 if column in ("best epoch", "s/epoch") else 4
        print(f"  {name:>28} | "
              f"{cell([values((name, seed)) for seed in SEEDS], digits)}")
print("max |w| / r")
for name in RUNS:
    ratios = np.max([max_ratio[name, seed] for seed in SEEDS], axis=0)
    print(f"  {name:>28} | " + ", ".join(f"{r:.2f}" for r in ratios))
sgd_name = list(RUNS)[2]
gap = max(np.max(np.abs(np.subtract(histories[list(RUNS)[1], seed]["val_loss"],
                                    histories[sgd_name, seed]["val_loss"])))
          for seed in SEEDS)
print(f"largest test-loss gap, CoLA-ud unconstrained vs {sgd_name}, over "
      f"epochs and seeds: {gap:.4f}")

"""
## What our runs show

The numbers below come from

```shell
KERAS_BACKEND=<backend> python constrained_langevin_fashion_mnist.py
```

with each backend, three seeds each, on 2 CPU cores shared with other
runs (2026-12-02; about 20, 34 and 32 minutes of wall time for JAX,
TensorFlow and PyTorch; the PyTorch run had `OMP_NUM_THREADS=1`, which
makes a CPU shared with other work much faster for torch). The `s/epoch`
rows include evaluating 60,000 test images and are not a speed
measurement: `benchmarks/langevin.py` measures the optimizer's cost. The
tables:

```
jax backend, seeds [0, 1, 2]: mean ± std (min-max)
train acc
    c-CoLA-ud (MagnitudeBound) | 0.9583 ± 0.0066 (0.9518-0.9674)
        CoLA-ud, unconstrained | 0.9657 ± 0.0072 (0.9556-0.9721)
     Keras SGD(momentum=0.741) | 0.9658 ± 0.0059 (0.9583-0.9726)
test acc
    c-CoLA-ud (MagnitudeBound) | 0.8647 ± 0.0034 (0.8609-0.8692)
        CoLA-ud, unconstrained | 0.8607 ± 0.0046 (0.8554-0.8666)
     Keras SGD(momentum=0.741) | 0.8604 ± 0.0051 (0.8553-0.8674)
best test loss
    c-CoLA-ud (MagnitudeBound) | 0.3787 ± 0.0020 (0.3765-0.3813)
        CoLA-ud, unconstrained | 0.3813 ± 0.0061 (0.3748-0.3895)
     Keras SGD(momentum=0.741) | 0.3813 ± 0.0061 (0.3747-0.3895)
best epoch
    c-CoLA-ud (MagnitudeBound) | 41.3 ± 1.9 (40.0-44.0)
        CoLA-ud, unconstrained | 20.0 ± 2.2 (17.0-22.0)
     Keras SGD(momentum=0.741) | 22.3 ± 1.2 (21.0-24.0)
final test loss
    c-CoLA-ud (MagnitudeBound) | 0.4029 ± 0.0117 (0.3876-0.4160)
        CoLA-ud, unconstrained | 0.5248 ± 0.0379 (0.4840-0.5753)
     Keras SGD(momentum=0.741) | 0.5183 ± 0.0327 (0.4781-0.5582)
rise
    c-CoLA-ud (MagnitudeBound) | 0.0242 ± 0.0098 (0.0111-0.0347)
        CoLA-ud, unconstrained | 0.1435 ± 0.0411 (0.1046-0.2004)
     Keras SGD(momentum=0.741) | 0.1370 ± 0.0352 (0.0982-0.1835)
s/epoch
    c-CoLA-ud (MagnitudeBound) | 2.2 ± 0.1 (2.2-2.3)
        CoLA-ud, unconstrained | 1.9 ± 0.1 (1.8-2.0)
     Keras SGD(momentum=0.741) | 1.9 ± 0.1 (1.8-2.0)
max |w| / r
    c-CoLA-ud (MagnitudeBound) | 1.00, 1.00
        CoLA-ud, unconstrained | 8.31, 7.78
     Keras SGD(momentum=0.741) | 7.72, 7.73
largest test-loss gap, CoLA-ud unconstrained vs Keras SGD(momentum=0.741), over epochs and seeds: 0.0392
```

```
tensorflow backend, seeds [0, 1, 2]: mean ± std (min-max)
train acc
    c-CoLA-ud (MagnitudeBound) | 0.9653 ± 0.0013 (0.9635-0.9664)
        CoLA-ud, unconstrained | 0.9791 ± 0.0033 (0.9765-0.9838)
     Keras SGD(momentum=0.741) | 0.9771 ± 0.0038 (0.9721-0.9811)
test acc
    c-CoLA-ud (MagnitudeBound) | 0.8691 ± 0.0017 (0.8671-0.8711)
        CoLA-ud, unconstrained | 0.8675 ± 0.0035 (0.8633-0.8720)
     Keras SGD(momentum=0.741) | 0.8668 ± 0.0041 (0.8616-0.8717)
best test loss
    c-CoLA-ud (MagnitudeBound) | 0.3793 ± 0.0020 (0.3766-0.3813)
        CoLA-ud, unconstrained | 0.3854 ± 0.0034 (0.3819-0.3901)
     Keras SGD(momentum=0.741) | 0.3859 ± 0.0027 (0.3827-0.3892)
best epoch
    c-CoLA-ud (MagnitudeBound) | 45.7 ± 6.5 (38.0-54.0)
        CoLA-ud, unconstrained | 18.3 ± 2.4 (15.0-20.0)
     Keras SGD(momentum=0.741) | 19.7 ± 0.5 (19.0-20.0)
final test loss
    c-CoLA-ud (MagnitudeBound) | 0.3886 ± 0.0014 (0.3867-0.3897)
        CoLA-ud, unconstrained | 0.4717 ± 0.0123 (0.4545-0.4820)
     Keras SGD(momentum=0.741) | 0.4729 ± 0.0126 (0.4567-0.4873)
rise
    c-CoLA-ud (MagnitudeBound) | 0.0093 ± 0.0009 (0.0081-0.0101)
        CoLA-ud, unconstrained | 0.0863 ± 0.0123 (0.0702-0.1001)
     Keras SGD(momentum=0.741) | 0.0870 ± 0.0112 (0.0741-0.1014)
s/epoch
    c-CoLA-ud (MagnitudeBound) | 3.9 ± 0.4 (3.4-4.3)
        CoLA-ud, unconstrained | 3.9 ± 1.1 (2.6-5.2)
     Keras SGD(momentum=0.741) | 3.3 ± 0.4 (2.7-3.8)
max |w| / r
    c-CoLA-ud (MagnitudeBound) | 1.00, 1.00
        CoLA-ud, unconstrained | 8.25, 8.26
     Keras SGD(momentum=0.741) | 7.62, 8.33
largest test-loss gap, CoLA-ud unconstrained vs Keras SGD(momentum=0.741), over epochs and seeds: 0.0913
```

```
torch backend, seeds [0, 1, 2]: mean ± std (min-max)
train acc
    c-CoLA-ud (MagnitudeBound) | 0.9574 ± 0.0081 (0.9486-0.9681)
        CoLA-ud, unconstrained | 0.9702 ± 0.0044 (0.9658-0.9762)
     Keras SGD(momentum=0.741) | 0.9691 ± 0.0067 (0.9603-0.9765)
test acc
    c-CoLA-ud (MagnitudeBound) | 0.8636 ± 0.0043 (0.8588-0.8692)
        CoLA-ud, unconstrained | 0.8625 ± 0.0049 (0.8581-0.8694)
     Keras SGD(momentum=0.741) | 0.8621 ± 0.0051 (0.8561-0.8686)
best test loss
    c-CoLA-ud (MagnitudeBound) | 0.3787 ± 0.0025 (0.3767-0.3822)
        CoLA-ud, unconstrained | 0.3799 ± 0.0033 (0.3760-0.3841)
     Keras SGD(momentum=0.741) | 0.3802 ± 0.0049 (0.3745-0.3865)
best epoch
    c-CoLA-ud (MagnitudeBound) | 43.3 ± 2.5 (40.0-46.0)
        CoLA-ud, unconstrained | 23.0 ± 1.4 (22.0-25.0)
     Keras SGD(momentum=0.741) | 21.0 ± 2.9 (17.0-24.0)
final test loss
    c-CoLA-ud (MagnitudeBound) | 0.4046 ± 0.0137 (0.3880-0.4215)
        CoLA-ud, unconstrained | 0.5038 ± 0.0262 (0.4671-0.5266)
     Keras SGD(momentum=0.741) | 0.5112 ± 0.0353 (0.4684-0.5548)
rise
    c-CoLA-ud (MagnitudeBound) | 0.0259 ± 0.0117 (0.0109-0.0393)
        CoLA-ud, unconstrained | 0.1240 ± 0.0267 (0.0875-0.1506)
     Keras SGD(momentum=0.741) | 0.1310 ± 0.0377 (0.0886-0.1803)
s/epoch
    c-CoLA-ud (MagnitudeBound) | 3.8 ± 0.8 (2.8-4.6)
        CoLA-ud, unconstrained | 3.5 ± 0.6 (2.7-4.1)
     Keras SGD(momentum=0.741) | 3.1 ± 0.6 (2.6-3.8)
max |w| / r
    c-CoLA-ud (MagnitudeBound) | 1.00, 1.00
        CoLA-ud, unconstrained | 9.81, 8.35
     Keras SGD(momentum=0.741) | 9.57, 8.42
largest test-loss gap, CoLA-ud unconstrained vs Keras SGD(momentum=0.741), over epochs and seeds: 0.0404
```

What holds on all three backends and every seed:

- **The unconstrained runs overfit; the constrained one much less.**
  Without the constraint the test loss is lowest at epoch 15 to 25 and
  then climbs by 0.07 to 0.20, to 0.45-0.58 at epoch 60, while the
  network fits the training subset to 96-98%. With the circle constraint
  the test loss keeps falling to its lowest value at epoch 38 to 54 and
  rises by at most 0.04 after it, ending at 0.39-0.42: below the final
  test loss of every unconstrained run. The training loss falls more
  slowly (95-97% training accuracy). This is the paper's claim,
  reproduced over 3 seeds of 60 epochs on each backend (the paper
  averages 20 runs of 400).
- **The lowest test loss is about the same** (0.376-0.382 with the
  constraint, 0.374-0.390 without): the constraint does not find a better
  model, it stops the model from getting worse.
- **Test accuracy is not reliably higher with the constraint.** Its mean
  is 0.1 to 0.4 points higher on each backend (86.4-86.9% against
  86.0-86.8%), but the seeds overlap: on one seed of TensorFlow and one
  of PyTorch an unconstrained run ends higher. The gain is in the loss,
  i.e. in how confident the wrong answers are, not in the number of right
  ones.
- **The weights stay in the box.** Both constrained kernels end with
  `max |w| = r` exactly (up to float32 rounding), while the unconstrained
  kernels grow to 7.6-9.8 times the radii.
- **The mapping to SGD holds.** `UnderdampedLangevin` at temperature 0
  without constraints and Keras `SGD(learning_rate=0.078, momentum=0.741)`
  give the same curves up to float rounding, which grows over the 4,740
  steps: the lowest test losses agree to 0.0005 in the mean, and the
  largest gap between their test losses at any epoch was 0.04 (JAX,
  PyTorch) to 0.09 (TensorFlow), at epochs where both swing.

"""
