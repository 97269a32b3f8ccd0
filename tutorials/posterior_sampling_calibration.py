"""
Title: Posterior sampling with constrained Langevin dynamics: a calibrated ensemble from one run
Author: keras-constrained contributors
Date created: 2026/11/23
Last modified: 2026/11/23
Description: `UnderdampedLangevin` at a positive temperature samples weights; `PosteriorSampler` keeps samples during `fit` and averages their predictions. Accuracy and calibration against single networks on Fashion-MNIST.
Accelerator: None
"""

"""
## Introduction

At `temperature=T > 0` the optimizers of `keras_constrained.optimizers` are
samplers: run long enough, their weights visit the density
`exp(-loss(w) / T)` restricted to the constraint set. With `loss` the mean
cross-entropy over `N` training examples, `T = 1/N` makes that density the
Bayesian posterior of the network's weights under a flat prior on the
constraint set (here a box `|w| <= r` for every weight, from
`MagnitudeBound`). Averaging the predictions of weights drawn from it gives
the Bayesian model average, which is usually better *calibrated* than a
single network: its confidence matches how often it is right.

`kc.callbacks.PosteriorSampler` collects the samples inside `model.fit`:
after `burn_in` steps it keeps the weights every `every` steps (at most
`max_samples`, in memory or on disk), and its `predict` averages the
members' predictive distributions.

We train an MLP 784-256-10 on 10,000 Fashion-MNIST images three ways, with
the same step size and friction:

1. **heavy ball, unconstrained**: `UnderdampedLangevin` at `T = 0` without
   constraints (Keras' `SGD` with momentum, see the optimizer's docstring);
2. **constrained, T = 0**: the same with `MagnitudeBound` on both kernels
   (c-CoLA-ud of Leimkuhler et al., ICML 2021);
3. **constrained, T = 1/N**: the same at temperature `1 / 10,000`, with a
   `PosteriorSampler` collecting samples over the second half of training.

and compare accuracy, negative log-likelihood and the expected calibration
error (ECE) of the three final networks and of the ensemble.
"""

"""
## Setup
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import time

import matplotlib

matplotlib.use("Agg")  # write PNG files, show nothing
import matplotlib.pyplot as plt
import numpy as np
import tensorflow_datasets as tfds

import keras
import keras_constrained as kc

print("Keras", keras.__version__, "with the", keras.config.backend(),
      "backend")

"""
When `KERAS_MAX_STEPS_PER_EPOCH` is set (a smoke run: Keras caps every epoch
at that many steps, `KERAS_MAX_EPOCHS` caps the epochs), the script uses 512
training and 512 test images and samples from the first step.
"""

SEED = 4
EPOCHS = 40
BATCH_SIZE = 128
STEP_SIZE = 0.3
FRICTION = 1.0
RADII = (0.05, 0.1)
SMOKE_TEST = bool(keras.config.max_steps_per_epoch())
N_TRAIN = 512 if SMOKE_TEST else 10_000
N_TEST = 512 if SMOKE_TEST else 10_000
TEMPERATURE = 1.0 / N_TRAIN
STEPS_PER_EPOCH = -(-N_TRAIN // BATCH_SIZE)
BURN_IN = 0 if SMOKE_TEST else STEPS_PER_EPOCH * EPOCHS // 2
SAMPLE_EVERY = 1 if SMOKE_TEST else 32

"""
## The data

`kc.datasets.prepare_fashion_mnist()` prepares TFDS's `fashion_mnist` from
the local copy of the original files in Debian's `dataset-fashion-mnist`
package, so `tfds.load` works without a network; `batch_size=-1` loads a
whole split as arrays.
"""

tfds.disable_progress_bar()
data_dir = kc.datasets.prepare_fashion_mnist()
(x_train, y_train), (x_test, y_test) = tfds.as_numpy(tfds.load(
    "fashion_mnist", split=["train", "test"], data_dir=data_dir,
    download=False, as_supervised=True, batch_size=-1))
subset = np.random.default_rng(SEED).permutation(len(x_train))[:N_TRAIN]
x_train = x_train[subset].reshape(-1, 784).astype("float32") / 255.0
y_train = y_train[subset]
x_test = x_test[:N_TEST].reshape(-1, 784).astype("float32") / 255.0
y_test = y_test[:N_TEST]

"""
## The model, the runs, and the sampler
"""


def make_model(constrained):
    keras.utils.set_random_seed(SEED)
    init = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")
    bounds = [kc.constraints.MagnitudeBound(r) if constrained else None
              for r in RADII]
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(256, activation="relu", kernel_initializer=init,
                           kernel_constraint=bounds[0]),
        keras.layers.Dense(10, kernel_initializer=init,
                           kernel_constraint=bounds[1]),
    ])


RUNS = {
    "heavy ball, unconstrained": (False, 0.0),
    "constrained, T=0": (True, 0.0),
    f"constrained, T=1/{N_TRAIN}": (True, TEMPERATURE),
}

models, histories, seconds = {}, {}, {}
sampler = kc.callbacks.PosteriorSampler(burn_in=BURN_IN, every=SAMPLE_EVERY,
                                        max_samples=100)
for name, (constrained, temperature) in RUNS.items():
    model = make_model(constrained)
    model.compile(
        optimizer=kc.optimizers.UnderdampedLangevin(
            STEP_SIZE, friction=FRICTION, temperature=temperature, seed=SEED),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    callbacks = [sampler] if temperature > 0 else []
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=BATCH_SIZE,
                        epochs=EPOCHS, validation_data=(x_test, y_test),
                        callbacks=callbacks, verbose=0)
    seconds[name] = time.perf_counter() - start
    models[name], histories[name] = model, history.history
    print(f"{name:>26}: {seconds[name]:6.1f} s, final test accuracy "
          f"{history.history['val_accuracy'][-1]:.4f}")
print(f"The sampler kept {len(sampler)} samples.")

"""
## Calibration

A classifier's *confidence* on an example is its largest predicted
probability. Sorting the test examples into 15 bins of confidence, a
calibrated classifier is right on a fraction of each bin's examples equal
to the bin's mean confidence. The expected calibration error (ECE) is the
mean absolute gap, weighted by the bins' sizes.
"""


def softmax(logits):
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def reliability(probabilities, labels, bins=15):
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == labels
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = [(confidence[index == b].mean(), correct[index == b].mean(),
             np.mean(index == b)) for b in range(bins) if np.any(index == b)]
    conf, acc, weight = map(np.array, zip(*rows))
    return conf, acc, float(np.sum(weight * np.abs(conf - acc)))


predictions = {name: softmax(np.asarray(model.predict(x_test, verbose=0),
                                        dtype="float64"))
               for name, model in models.items()}
predictions[f"ensemble of {len(sampler)} samples"] = sampler.predict(
    x_test, from_logits=True)

fig, ax = plt.subplots(figsize=(6, 6))
ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="calibrated")
rows = []
for name, p in predictions.items():
    conf, acc, ece = reliability(p, y_test)
    ax.plot(conf, acc, "o-", label=f"{name} (ECE {ece:.3f})")
    nll = -np.mean(np.log(p[np.arange(len(y_test)), y_test] + 1e-12))
    rows.append((name, np.mean(p.argmax(-1) == y_test), nll, ece))
ax.set(xlabel="confidence", ylabel="accuracy",
       title="Reliability on the test set")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("posterior_reliability.png", dpi=120)
plt.close(fig)

"""
![reliability](posterior_reliability.png)

The test loss of each run over training, for context: the ensemble's
members are drawn from the second half.
"""

fig, ax = plt.subplots(figsize=(7, 4.5))
for name, h in histories.items():
    ax.plot(np.arange(1, len(h["val_loss"]) + 1), h["val_loss"], label=name)
ax.axvline(BURN_IN / STEPS_PER_EPOCH, color="gray", linestyle=":",
           label="sampling starts")
ax.set(xlabel="epoch", ylabel="test loss", title="Test loss")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig("posterior_test_loss.png", dpi=120)
plt.close(fig)

"""
![test loss](posterior_test_loss.png)

## Summary
"""

header = (f"{'predictor':>30} | {'test acc':>8} | {'test NLL':>8} | "
          f"{'ECE':>6}")
print(header)
print("-" * len(header))
for name, accuracy, nll, ece in rows:
    print(f"{name:>30} | {accuracy:8.4f} | {nll:8.4f} | {ece:6.4f}")

"""
## What our run shows

RESULTS
"""
