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

At `temperature=T > 0` the optimizers of `kc.optimizers` are samplers: run
long enough, their weights visit the density `exp(-loss(w) / T)` restricted
to the constraint set. With `loss` the mean cross-entropy over `N` training
examples, `T = 1/N` makes that density the Bayesian posterior of the
network's weights under a flat prior on the constraint set (here a box
`|w| <= r` for every weight, from `kc.constraints.MagnitudeBound`).
Averaging the predictions of weights drawn from it gives the Bayesian model
average, which is usually better *calibrated* than a single network: its
confidence matches how often it is right.

`kc.callbacks.PosteriorSampler` collects the samples inside `model.fit`:
after `burn_in` steps it keeps the weights every `every` steps (at most
`max_samples`, in memory or on disk), and its `predict` averages the
members' predictive distributions.

We train an MLP 784-256-10 on 10,000 Fashion-MNIST images with
`UnderdampedLangevin` (the same step size and friction throughout), with
and without `MagnitudeBound` on both kernels (the constrained model is
c-CoLA-ud of Leimkuhler et al., ICML 2021), at four temperatures:

- `T = 0`: no noise, an optimizer (Keras' `SGD` with momentum when
  unconstrained, see the optimizer's docstring);
- `T = 1/N = 1e-4` (`kc.optimizers.posterior_temperature(N)`): the Bayesian
  posterior with a flat prior;
- `T = 1e-5` and `T = 1e-6`: "cold" posteriors, ten and a hundred times
  sharper.

At `T > 0` a `PosteriorSampler` collects samples over the second half of
training. We compare accuracy, negative log-likelihood (NLL) and the
expected calibration error (ECE) of every final network and every
ensemble.
"""

"""
## Setup

The script needs only Keras, one of its backends (JAX, TensorFlow or
PyTorch), NumPy and matplotlib. It runs on the backend Keras is configured
with (the `KERAS_BACKEND` environment variable, else `~/.keras/keras.json`)
and prints it. It writes its plots as PNG files into the current directory.
"""

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
When `KERAS_MAX_STEPS_PER_EPOCH` is set (a smoke run: Keras caps every epoch
at that many steps, `KERAS_MAX_EPOCHS` caps the epochs), the script uses 512
training and 512 test images, samples from the first step, and runs only
the first and the last temperature: compiling each run dominates a smoke
run, which checks the code, not the numbers.
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
POSTERIOR_T = kc.optimizers.posterior_temperature(N_TRAIN)  # 1 / N_TRAIN
TEMPERATURES = (0.0, POSTERIOR_T / 100, POSTERIOR_T / 10, POSTERIOR_T)
if SMOKE_TEST:
    TEMPERATURES = (TEMPERATURES[0], TEMPERATURES[-1])
STEPS_PER_EPOCH = -(-N_TRAIN // BATCH_SIZE)
BURN_IN = 0 if SMOKE_TEST else STEPS_PER_EPOCH * EPOCHS // 2
SAMPLE_EVERY = 1 if SMOKE_TEST else 32

"""
## The data

`kc.datasets.load_fashion_mnist()` returns NumPy arrays like
`keras.datasets.fashion_mnist.load_data()`, read from the local copy of the
original files in Debian's `dataset-fashion-mnist` package where it is
installed (no network needed), downloaded otherwise.
"""

(x_train, y_train), (x_test, y_test) = kc.datasets.load_fashion_mnist()
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


RUNS = [(constrained, temperature) for constrained in (False, True)
        for temperature in TEMPERATURES]


def run_name(constrained, temperature):
    return (f"{'constrained' if constrained else 'unconstrained'}, "
            f"T={temperature:g}")


models, histories, samplers = {}, {}, {}
for constrained, temperature in RUNS:
    name = run_name(constrained, temperature)
    model = make_model(constrained)
    model.compile(
        optimizer=kc.optimizers.UnderdampedLangevin(
            STEP_SIZE, friction=FRICTION, temperature=temperature, seed=SEED),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    callbacks = []
    if temperature > 0:
        samplers[name] = kc.callbacks.PosteriorSampler(
            burn_in=BURN_IN, every=SAMPLE_EVERY, max_samples=100)
        callbacks.append(samplers[name])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=BATCH_SIZE,
                        epochs=EPOCHS, validation_data=(x_test, y_test),
                        callbacks=callbacks, verbose=0)
    models[name], histories[name] = model, history.history
    print(f"{name:>28}: {time.perf_counter() - start:6.1f} s, final test "
          f"accuracy {history.history['val_accuracy'][-1]:.4f}")
print("Samples kept:", {name: len(sampler)
                        for name, sampler in samplers.items()})

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


single = {name: softmax(np.asarray(model.predict(x_test, verbose=0),
                                   dtype="float64"))
          for name, model in models.items()}
ensemble = {name: sampler.predict(x_test, from_logits=True)
            for name, sampler in samplers.items()}

fig, axes = plt.subplots(1, 2, figsize=(12, 6), sharey=True)
for ax, constrained in zip(axes, (False, True)):
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="calibrated")
    for temperature in TEMPERATURES:
        name = run_name(constrained, temperature)
        label, p = ((f"T={temperature:g}, one network", single[name])
                    if temperature == 0 else
                    (f"T={temperature:g}, ensemble", ensemble[name]))
        conf, acc, ece = reliability(p, y_test)
        ax.plot(conf, acc, "o-", label=f"{label} (ECE {ece:.3f})")
    ax.set(xlabel="confidence", ylabel="accuracy",
           title="with MagnitudeBound" if constrained else "unconstrained")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.suptitle("Reliability on the test set")
fig.tight_layout()
fig.savefig("posterior_reliability.png", dpi=120)
plt.close(fig)


def scores(p):
    nll = -np.mean(np.log(p[np.arange(len(y_test)), y_test] + 1e-12))
    return np.mean(p.argmax(-1) == y_test), nll, reliability(p, y_test)[2]


"""
![reliability](posterior_reliability.png)

The test loss of each run over training, for context: the ensemble's
members are drawn from the second half.
"""

fig, ax = plt.subplots(figsize=(8, 4.5))
for name, h in histories.items():
    ax.plot(np.arange(1, len(h["val_loss"]) + 1), h["val_loss"], label=name)
ax.axvline(BURN_IN / STEPS_PER_EPOCH, color="gray", linestyle=":",
           label="sampling starts")
ax.set(xlabel="epoch", ylabel="test loss",
       title="Test loss of the network being trained")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("posterior_test_loss.png", dpi=120)
plt.close(fig)

"""
![test loss](posterior_test_loss.png)

## Summary
"""

header = (f"{'run':>28} | {'one network: acc':>16} | {'NLL':>6} | "
          f"{'ECE':>6} || {'ensemble: acc':>13} | {'NLL':>6} | {'ECE':>6}")
print(header)
print("-" * len(header))
for name in models:
    acc, nll, ece = scores(single[name])
    row = f"{name:>28} | {acc:16.4f} | {nll:6.4f} | {ece:6.4f} || "
    if name in ensemble:
        acc, nll, ece = scores(ensemble[name])
        row += f"{acc:13.4f} | {nll:6.4f} | {ece:6.4f}"
    print(row)

"""
## What our run shows

The numbers below come from one run of

```shell
KERAS_BACKEND=jax python posterior_sampling_calibration.py
```

on 2 quiet CPU cores (2026-11-30, 2 min 5 s of wall time). Each
ensemble has 50 members, one every 32 steps over the last 20 epochs.
(That run read the data through tensorflow-datasets, whose order
of the examples differs from the files' order that the script uses
now, so its random training subset held other images; expect
numbers of the same size, not the same digits.)
Its table:

```
                         run | one network: acc |    NLL |    ECE || ensemble: acc |    NLL |    ECE
----------------------------------------------------------------------------------------------------
          unconstrained, T=0 |           0.8398 | 0.4925 | 0.0684 ||
      unconstrained, T=1e-06 |           0.8451 | 0.4739 | 0.0602 ||        0.8618 | 0.3861 | 0.0171
      unconstrained, T=1e-05 |           0.8277 | 0.5590 | 0.0786 ||        0.8584 | 0.3959 | 0.0198
     unconstrained, T=0.0001 |           0.8102 | 0.7340 | 0.0904 ||        0.8438 | 0.4598 | 0.0175
            constrained, T=0 |           0.8437 | 0.4329 | 0.0079 ||
        constrained, T=1e-06 |           0.8389 | 0.4444 | 0.0102 ||        0.8463 | 0.4308 | 0.0211
        constrained, T=1e-05 |           0.8021 | 0.5473 | 0.0148 ||        0.8333 | 0.4868 | 0.0554
       constrained, T=0.0001 |           0.7559 | 0.7158 | 0.1102 ||        0.7842 | 0.6921 | 0.1487
```

- **Without constraints, the ensemble is the calibrated predictor.** The
  single network trained at `T = 0` is overconfident (its reliability curve
  lies below the diagonal, ECE 0.068). The ensembles collected by
  `PosteriorSampler` from one sampling run each are calibrated at every
  temperature (ECE 0.017-0.020) and better on every score: at `T = 1e-6`,
  86.2% test accuracy against 84.0% and NLL 0.386 against 0.493. The single
  networks of the sampling runs are no better than the optimizer's (the
  noise makes them worse as `T` grows): the gain is in the averaging.
- **With `MagnitudeBound`, one network is already calibrated.** The
  constrained network trained at `T = 0` has the lowest ECE of all (0.0079)
  and a low NLL (0.433): bounding every weight bounds the logits, which
  keeps the network from becoming overconfident. Sampling adds little
  here: the coldest ensemble matches it in accuracy and NLL (84.6% and
  0.431) with a slightly higher ECE (0.021), and warmer ensembles are
  *under*confident (curves above the diagonal, ECE 0.149 at `T = 1e-4`):
  within the box, the posterior at `T = 1/N` is wide.
- **The temperature matters.** `T = 1/N` is the Bayesian posterior under a
  flat prior, but the best ensembles here came from colder temperatures, as
  the "cold posterior" literature reports for networks of this kind. Treat
  `T` as a hyperparameter and check calibration on held-out data, as this
  tutorial does.

One run per setting; differences in ECE below about 0.01 are within what
another seed would change.
"""
