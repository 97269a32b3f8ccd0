"""
Title: A per-pixel Hamiltonian network on Fashion-MNIST
Author: keras-constrained contributors
Date created: 2026/11/23
Last modified: 2026/11/24
Description: The H-DNN paper's image model (3x3 convolution, an H-DNN on each pixel's channels, a linear classifier) against the same model without the H-DNN.
Accelerator: None
"""

"""
## Introduction

For MNIST the H-DNN paper (Galimberti et al., arXiv 2105.13205) uses a small
model: a 3x3 convolution to 8 channels, then an H-DNN that acts on the 8
channels of every pixel separately (a "1x1" Hamiltonian network, the same
weights at every position), then a linear classifier on the flattened
28 x 28 x 8 features. `kc.layers.Hamiltonian` acts on the last axis of its
input, so after a channels-last `Conv2D` it is exactly this per-pixel
network.

We train it on Fashion-MNIST (a harder drop-in for MNIST) and compare it
with the same model without the H-DNN (convolution then classifier).
"""

"""
## Setup

The script needs only Keras, one of its backends (JAX, TensorFlow or
PyTorch), NumPy and matplotlib. It runs on the backend Keras is configured
with (the `KERAS_BACKEND` environment variable, else `~/.keras/keras.json`)
and prints it. It writes its plot as a PNG file into the current directory.
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
Settings. The H-DNN is an H2 (semi-implicit) network of depth 4 with
`h = 0.5`; Adam with learning rate 1e-3, batch 100, 5 epochs on the 60,000
training images, tested on the 10,000 test images (the paper trains 10
epochs with a decaying learning rate of 0.04; we keep the run to a few
minutes of a shared 2-core CPU). The smoke mode
(`KERAS_MAX_STEPS_PER_EPOCH` set) uses 500 training and 500 test images.
"""

SMOKE_TEST = bool(keras.config.max_steps_per_epoch())
EPOCHS = 5
DEPTH = 4
STEP_SIZE = 0.5
BATCH_SIZE = 100

"""
## The data

`kc.datasets.load_fashion_mnist()` returns NumPy arrays like
`keras.datasets.fashion_mnist.load_data()`, read from the local copy of the
original files in Debian's `dataset-fashion-mnist` package where it is
installed (no network needed), downloaded otherwise. The convolution wants
a channel axis: 28 x 28 x 1.
"""

(x_train, y_train), (x_test, y_test) = kc.datasets.load_fashion_mnist()
if SMOKE_TEST:
    x_train, y_train, x_test, y_test = (x_train[:500], y_train[:500],
                                        x_test[:500], y_test[:500])
x_train = x_train[..., None].astype("float32") / 255.0
x_test = x_test[..., None].astype("float32") / 255.0
print("train", x_train.shape, "test", x_test.shape)

"""
## The two models
"""


def make_model(with_hdnn):
    keras.utils.set_random_seed(0)
    layers = [keras.Input((28, 28, 1)),
              keras.layers.Conv2D(8, 3, padding="same")]
    if with_hdnn:
        layers.append(kc.layers.Hamiltonian(
            DEPTH, STEP_SIZE, smoothness_weight=1e-3, name="hdnn"))
    layers += [keras.layers.Flatten(), keras.layers.Dense(10)]
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    return model


results, histories = {}, {}
for name, with_hdnn in [("conv + H-DNN + dense", True),
                        ("conv + dense", False)]:
    model = make_model(with_hdnn)
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=BATCH_SIZE,
                        epochs=EPOCHS, validation_data=(x_test, y_test),
                        verbose=0)
    seconds = time.perf_counter() - start
    histories[name] = history.history
    results[name] = (model.count_params(),
                     history.history["accuracy"][-1],
                     history.history["val_accuracy"][-1], seconds)
    print(f"{name}: test accuracy {results[name][2]:.4f} in {seconds:.0f} s")

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for name, history in histories.items():
    epochs = np.arange(1, len(history["val_accuracy"]) + 1)
    ax.plot(epochs, history["val_accuracy"], "o-", label=f"{name}, test")
    ax.plot(epochs, history["accuracy"], "--", label=f"{name}, train")
ax.set(xlabel="epoch", ylabel="accuracy", title="Fashion-MNIST")
ax.legend()
fig.savefig("hamiltonian_fashion_mnist.png", dpi=100)
plt.close(fig)

"""
![accuracy](hamiltonian_fashion_mnist.png)

## Summary

Parameters, final train and test accuracy, and training time (wall clock on
a shared machine: only a rough guide; see `benchmarks/hamiltonian.py` for
step-time ratios). A full run (JAX backend, on a CPU shared with other
jobs) printed:

```
                 model  params  train   test  seconds
  conv + H-DNN + dense   62970 0.9048 0.8701       30
          conv + dense   62810 0.8618 0.8369        8
```

With 160 more parameters (the 4 steps' `K_p`, `K_q`, `b`), the per-pixel
H-DNN adds 3.3 points of test accuracy after 5 epochs.
"""

print(f"\n{'model':>22} {'params':>7} {'train':>6} {'test':>6} "
      f"{'seconds':>8}")
for name, (params, train_accuracy, test_accuracy, seconds) in (
        results.items()):
    print(f"{name:>22} {params:7d} {train_accuracy:6.4f} "
          f"{test_accuracy:6.4f} {seconds:8.0f}")
