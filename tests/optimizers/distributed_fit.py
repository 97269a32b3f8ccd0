"""Trains one small constrained model on two CPU devices and on one, and
prints, per optimizer (those named as arguments, or all), the largest
weight difference, the largest difference between the replicas' copies
of a weight and the largest constraint violation after distributed
training, as JSON.

Run as a script by `test_distribution.py`: the devices must be set up
before the backend starts, so it cannot share the test process. Under JAX
the two devices are XLA host devices and the strategy is
`keras.distribution.DataParallel`; under TensorFlow two logical CPUs and
`tf.distribute.MirroredStrategy`.
"""

import contextlib
import json
import os
import sys

backend = os.environ["KERAS_BACKEND"]
if backend == "jax":
    os.environ["XLA_FLAGS"] = " ".join([
        os.environ.get("XLA_FLAGS", ""),
        "--xla_force_host_platform_device_count=2"])
else:
    import tensorflow as tf

    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_constrained as kc  # noqa: E402

OPTIMIZERS = {
    "UnderdampedLangevin": lambda: kc.optimizers.UnderdampedLangevin(
        0.1, friction=1.0, temperature=1e-3, seed=3),
    "OverdampedLangevin": lambda: kc.optimizers.OverdampedLangevin(
        0.1, temperature=1e-3, seed=3),
    "DSGD": lambda: kc.optimizers.DSGD(0.5, smoothness=1.0,
                                       norm="spectral"),
    "RiemannianAdam": lambda: kc.optimizers.RiemannianAdam(0.02),
}
CONSTRAINTS = [kc.constraints.Orthogonal(), kc.constraints.MagnitudeBound(0.3)]


def scope(distributed):
    if not distributed:
        if backend == "jax":
            keras.distribution.set_distribution(None)
        return contextlib.nullcontext()
    if backend == "jax":
        import jax

        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=jax.devices()))
        return contextlib.nullcontext()
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope()


def train(make_optimizer, distributed):
    with scope(distributed):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((6,)),
            keras.layers.Dense(8, activation="tanh",
                               kernel_constraint=CONSTRAINTS[0]),
            keras.layers.Dense(
                4, kernel_constraint=CONSTRAINTS[1],
                kernel_initializer=keras.initializers.RandomUniform(
                    -0.3, 0.3)),
        ])
        model.compile(make_optimizer(), "mse")
    initial = [np.asarray(w) for w in model.get_weights()]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.normal(size=(64, 4)).astype("float32")
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return initial, [np.asarray(w) for w in model.get_weights()], max(
        replica_spread(v) for v in model.weights)


def replica_spread(variable):
    """The largest difference between the replicas' copies of `variable`
    (TensorFlow's MirroredVariable holds one per device; a JAX array
    replicated by `DataParallel` is one value)."""
    copies = getattr(variable.value, "values", None)
    if backend != "tensorflow" or copies is None:
        return 0.0
    copies = [np.asarray(c) for c in copies]
    return max(float(np.max(np.abs(c - copies[0]))) for c in copies)


results = {}
for name in sys.argv[1:] or OPTIMIZERS:
    make_optimizer = OPTIMIZERS[name]
    initial, single, _ = train(make_optimizer, distributed=False)
    _, distributed, spread = train(make_optimizer, distributed=True)
    results[name] = {
        "moved": max(float(np.max(np.abs(a - b)))
                     for a, b in zip(initial, single)),
        "difference": max(float(np.max(np.abs(a - b)))
                          for a, b in zip(single, distributed)),
        "replica_spread": spread,
        "violation": max(float(c.violation(w)) for c, w in
                         zip(CONSTRAINTS, distributed[::2])),
    }
print(json.dumps(results))
