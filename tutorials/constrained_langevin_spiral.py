"""
Title: Constrained Langevin dynamics on the 2-D spiral
Author: keras-constrained contributors
Date created: 2026/11/23
Last modified: 2026/11/23
Description: SGD, weight decay, SGLD and their magnitude-bounded versions on a 100-point spiral: test loss over training and decision boundaries.
Accelerator: None
"""

"""
## Introduction

The constrained Langevin paper (Leimkuhler, Pouchon, Vlaar and Storkey,
"Constraint-based regularization of neural networks", arXiv:2006.10114)
opens with a small experiment: a two-class 2-D spiral with about 100
training points, a small MLP trained until it fits the training set, and
five training methods: SGD, SGD with weight decay, constrained SGD (C-SGD),
stochastic-gradient Langevin dynamics (SGLD) and constrained SGLD (C-SGLD).
The claim it illustrates: without a constraint the test loss keeps rising
once the model has fitted the training points, while with the constraint it
stays flat, and the constrained models reach a higher test accuracy.

The paper does not give the model, step size, radius or temperature of this
figure. We use the set-up of a NumPy re-implementation that reproduced the
claim: an MLP 2-100-100-2 with ReLU, initialized like PyTorch's `Linear`
(uniform in `+-1/sqrt(fan_in)`), full-batch steps of size `h = 0.1` for
10,000 steps, and a bound on the magnitude of every weight of every kernel.

The constraint is `keras_constrained.constraints.MagnitudeBound(r)`, every
weight in `[-r, r]`. The optimizer for the constrained and the Langevin
runs is `keras_constrained.optimizers.OverdampedLangevin(h, temperature=T)`:

```
w <- w - h * gradient + sqrt(2 * h * T) * normal()
```

At `T = 0` this is plain gradient descent (the same steps as
`keras.optimizers.SGD(h)` on an unconstrained weight). On a weight with a
`MagnitudeBound`, the optimizer does not clip: it moves the weight on the
paper's "circle" (`w = r sin(s / r)` for an auxiliary arc length `s`), so
`|w| <= r` holds exactly and the force on a weight fades as it approaches
the bound.
"""

"""
## Setup

The script keeps the backend you set in `KERAS_BACKEND` and uses JAX
otherwise. It writes its plots as PNG files into the current directory.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import time

import matplotlib

matplotlib.use("Agg")  # write PNG files, show nothing
import matplotlib.pyplot as plt
import numpy as np

import keras
import keras_constrained
from keras_constrained import constraints
from keras_constrained import optimizers

print("Keras", keras.__version__, "with the", keras.config.backend(),
      "backend")

"""
The settings. `RADIUS` and `TEMPERATURE` were chosen by measurement (runs
not shown here). With `r = 0.7` the constrained models still fit the 100
training points (100% or nearly); the NumPy proxy used 0.7 to 1.0. With
`T = 1e-3`, SGLD's test loss blew up to over 3 in the middle of one
trial run and C-SGLD no longer fitted the training set (94%), so we use
`T = 1e-4`. The L2 coefficient `1e-3` is the largest round value with
which SGD + weight decay still fits the training set to 99-100% in our
trials.

When `KERAS_MAX_STEPS_PER_EPOCH` is set (Keras then caps every epoch at that
many steps; `KERAS_MAX_EPOCHS` caps the epochs), the script trains only
a few steps, on a single draw of the data, so that a smoke run stays quick.
"""

DATA_SEED = 0  # the spiral drawn for the main experiment
INIT_SEED = 0  # the initial weights, shared by all five methods
NOISE_SEED = 1  # the Langevin noise
STEP_SIZE = 0.1
STEPS = 10_000
STEPS_PER_EPOCH = 100  # full-batch steps between two test evaluations
RADIUS = 0.7
TEMPERATURE = 1e-4
L2 = 1e-3
SMOKE_TEST = bool(keras.config.max_steps_per_epoch())
REPEAT_DATA_SEEDS = [] if SMOKE_TEST else [1, 2, 3]
GRID_POINTS = 40 if SMOKE_TEST else 300

"""
## The data

`keras_constrained.datasets.spiral` draws two interleaved spiral arms, one
per class (1.75 turns, Gaussian noise of standard deviation 0.06 on each
coordinate). Training and test points are independent draws: 100 training
points, as in the paper, and 2000 test points.
"""


def load(seed):
    return keras_constrained.datasets.spiral(n_train=100, n_test=2000,
                                             seed=seed)


(x_train, y_train), (x_test, y_test) = load(DATA_SEED)
print("train", x_train.shape, np.bincount(y_train), "test", x_test.shape,
      np.bincount(y_test))

"""
## The model and the five methods

Every method starts from the same initial weights: we build the model once
with a fixed seed, keep its weights, and load them into every copy. Keras
applies a constraint only after each step, so for the constrained copies we
project the kernels once right at the start. With `r = 0.7` this changes
almost nothing: only first-layer weights (fan-in 2, initial range
`+-1/sqrt(2) = +-0.707`) can lie outside `[-0.7, 0.7]`, and they are clipped
to the bound.

Weight decay: we add an L2 penalty `1e-3 * sum(w**2)` on every kernel with
`kernel_regularizer=keras.regularizers.L2(1e-3)`, not the optimizer's
`weight_decay=`. For plain SGD the two are the same update (Keras'
decoupled decay `w <- w - h * wd * w` equals an L2 penalty with coefficient
`wd / 2`), but the regularizer decays only the kernels, like the constraint
(Keras' `weight_decay` also decays the biases unless they are excluded),
and it is part of the loss Keras reports, so the training loss of that run
includes the penalty.

The five methods, each with the step size `h = 0.1`:

- **SGD**: `keras.optimizers.SGD(0.1)`.
- **SGD + L2**: the same, with the L2 penalty.
- **C-SGD**: `OverdampedLangevin(0.1)` (temperature 0) with
  `kernel_constraint=MagnitudeBound(0.7)` on all three kernels.
- **SGLD**: `OverdampedLangevin(0.1, temperature=1e-4, seed=1)`, no
  constraint.
- **C-SGLD**: the same with `MagnitudeBound(0.7)` on all three kernels.

The biases are never constrained.
"""

pytorch_init = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def make_model(constraint=None, regularizer=None):
    return keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(100, activation="relu",
                           kernel_initializer=pytorch_init,
                           kernel_constraint=constraint,
                           kernel_regularizer=regularizer),
        keras.layers.Dense(100, activation="relu",
                           kernel_initializer=pytorch_init,
                           kernel_constraint=constraint,
                           kernel_regularizer=regularizer),
        keras.layers.Dense(2, kernel_initializer=pytorch_init,
                           kernel_constraint=constraint,
                           kernel_regularizer=regularizer),
    ])


keras.utils.set_random_seed(INIT_SEED)
initial_weights = make_model().get_weights()

METHODS = {
    "SGD": dict(
        optimizer=lambda: keras.optimizers.SGD(STEP_SIZE)),
    "SGD + L2": dict(
        optimizer=lambda: keras.optimizers.SGD(STEP_SIZE),
        regularizer=lambda: keras.regularizers.L2(L2)),
    "C-SGD": dict(
        optimizer=lambda: optimizers.OverdampedLangevin(STEP_SIZE),
        constraint=lambda: constraints.MagnitudeBound(RADIUS)),
    "SGLD": dict(
        optimizer=lambda: optimizers.OverdampedLangevin(
            STEP_SIZE, temperature=TEMPERATURE, seed=NOISE_SEED)),
    "C-SGLD": dict(
        optimizer=lambda: optimizers.OverdampedLangevin(
            STEP_SIZE, temperature=TEMPERATURE, seed=NOISE_SEED),
        constraint=lambda: constraints.MagnitudeBound(RADIUS)),
}

"""
## Training

Full-batch training with `model.fit` means `batch_size=100`, one step per
pass over the data. An epoch of a single step would make Keras evaluate the
test set after every step and pay its per-epoch overhead 10,000 times. So we
hand `fit` the training set repeated 100 times with `shuffle=False`: every
batch of 100 is then exactly the full training set, and an "epoch" is 100
full-batch steps, after which `validation_data` gives the test loss and
accuracy. 100 such epochs make the 10,000 steps.
"""


def train(method, data):
    (x_tr, y_tr), (x_te, y_te) = data
    spec = METHODS[method]
    constraint = spec.get("constraint", lambda: None)()
    regularizer = spec.get("regularizer", lambda: None)()
    model = make_model(constraint, regularizer)
    model.set_weights(initial_weights)
    for layer in model.layers:
        if layer.kernel.constraint is not None:
            layer.kernel.assign(layer.kernel.constraint(layer.kernel))
    model.compile(
        optimizer=spec["optimizer"](),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        np.tile(x_tr, (STEPS_PER_EPOCH, 1)), np.tile(y_tr, STEPS_PER_EPOCH),
        batch_size=len(x_tr), shuffle=False,
        epochs=STEPS // STEPS_PER_EPOCH,
        validation_data=(x_te, y_te), validation_batch_size=len(x_te),
        verbose=0)
    return model, history.history


data = ((x_train, y_train), (x_test, y_test))
models, histories = {}, {}
for method in METHODS:
    start = time.perf_counter()
    models[method], histories[method] = train(method, data)
    h = histories[method]
    print(f"{method:>8}: {len(h['loss'])} epochs in "
          f"{time.perf_counter() - start:4.1f} s, test loss "
          f"{h['val_loss'][-1]:.3f}, test accuracy {h['val_accuracy'][-1]:.3f}")

"""
The bound holds: the largest weight magnitude of every kernel of the
constrained models, against the unconstrained ones.
"""

for method, model in models.items():
    largest = [float(np.abs(keras.ops.convert_to_numpy(layer.kernel)).max())
               for layer in model.layers]
    print(f"{method:>8}: max |w| per kernel "
          + ", ".join(f"{value:.3f}" for value in largest))

"""
## Test loss during training

The test loss after every 100 steps, on a logarithmic step axis (the
interesting part, the test-loss minimum, comes early).
"""

steps = STEPS_PER_EPOCH * np.arange(
    1, len(histories["SGD"]["val_loss"]) + 1)
colors = dict(zip(METHODS, ["C0", "C1", "C2", "C3", "C4"]))
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5))
for method, h in histories.items():
    style = "-" if method.startswith("C-") else "--"
    ax_loss.plot(steps, h["val_loss"], style, color=colors[method],
                 label=method)
    ax_acc.plot(steps, h["val_accuracy"], style, color=colors[method],
                label=method)
ax_loss.set(xscale="log", xlabel="full-batch steps",
            ylabel="test loss (cross-entropy)", title="Test loss")
ax_acc.set(xscale="log", xlabel="full-batch steps", ylabel="test accuracy",
           title="Test accuracy")
for ax in (ax_loss, ax_acc):
    ax.grid(alpha=0.3, which="both")
ax_loss.legend()
fig.suptitle(f"Spiral, MLP 2-100-100-2, h={STEP_SIZE}, r={RADIUS}, "
             f"T={TEMPERATURE}, L2={L2}, {keras.config.backend()} backend")
fig.tight_layout()
fig.savefig("spiral_test_loss.png", dpi=120)
plt.close(fig)

"""
![test loss](spiral_test_loss.png)

## Decision boundaries

The predicted probability of class 1 on a grid, the decision boundary
(probability 0.5, black) and the 100 training points.
"""

axis = np.linspace(-1.2, 1.2, GRID_POINTS, dtype="float32")
grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 4.2))
for ax, (method, model) in zip(axes, models.items()):
    logits = model.predict(grid, batch_size=10_000, verbose=0)
    probability = keras.ops.convert_to_numpy(
        keras.ops.softmax(logits))[:, 1].reshape(GRID_POINTS, GRID_POINTS)
    ax.contourf(axis, axis, probability, levels=np.linspace(0, 1, 11),
                cmap="RdBu_r", alpha=0.6)
    ax.contour(axis, axis, probability, levels=[0.5], colors="black",
               linewidths=1)
    ax.scatter(x_train[:, 0], x_train[:, 1], c=y_train, cmap="RdBu_r",
               edgecolors="black", s=18)
    ax.set(title=f"{method}: test acc "
                 f"{histories[method]['val_accuracy'][-1]:.3f}",
           xticks=[], yticks=[], aspect="equal")
fig.tight_layout()
fig.savefig("spiral_decision_boundaries.png", dpi=100)
plt.close(fig)

"""
![decision boundaries](spiral_decision_boundaries.png)

## Summary

The training accuracy is evaluated on the 100 training points after
training (not the running value `fit` logs); the test accuracy and loss are
those after the last step; the best test loss is the lowest of the 100
evaluations, with the step where it occurred.
"""

header = (f"{'method':>8} | {'train acc':>9} | {'test acc':>8} | "
          f"{'final test loss':>15} | {'best test loss':>22}")
print(header)
print("-" * len(header))
for method, model in models.items():
    h = histories[method]
    train_accuracy = model.evaluate(x_train, y_train, verbose=0,
                                    return_dict=True)["accuracy"]
    best = int(np.argmin(h["val_loss"]))
    print(f"{method:>8} | {train_accuracy:9.3f} | {h['val_accuracy'][-1]:8.3f}"
          f" | {h['val_loss'][-1]:15.3f} | {h['val_loss'][best]:.3f} "
          f"(step {steps[best]:6d})")

"""
## Another draw of the data

One draw of 100 training points is a small sample, so we repeat the five
runs (same initial weights and noise seed) on three more draws of the
spiral and print the final test accuracy and test loss of each.
"""

if REPEAT_DATA_SEEDS:
    print(f"{'data seed':>9} | " + " | ".join(
        f"{method:>15}" for method in METHODS))
    print(f"{'':>9} | " + " | ".join(
        f"{'acc':>6}  {'loss':>7}" for _ in METHODS))
    for seed in REPEAT_DATA_SEEDS:
        results = []
        for method in METHODS:
            _, h = train(method, load(seed))
            results.append(f"{h['val_accuracy'][-1]:6.3f}  "
                           f"{h['val_loss'][-1]:7.3f}")
        print(f"{seed:>9} | " + " | ".join(results))

"""
## What our run shows

RESULTS
"""
