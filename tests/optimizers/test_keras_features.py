"""Keras' optimizer features with the package's optimizers, as with stock
ones: moving averages of the weights, gradient clipping, weight-decay
exclusions, learning-rate callbacks, `steps_per_execution`,
`BackupAndRestore`, and a `.keras` file moving across backends."""

import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import particle_model
from helpers import to_numpy

from keras_constrained import constraints
from keras_constrained import layers
from keras_constrained.optimizers import DSGD
from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import RiemannianAdam
from keras_constrained.optimizers import UnderdampedLangevin

# Noisy Langevin samplers (their seed state is part of what must carry
# over), DSGD with its adaptive smoothness state, and RiemannianAdam with
# its moments (RiemannianSGD shares its base class; its own tests are in
# test_riemannian.py and the other shared tests).
OPTIMIZERS = {
    "overdamped": (OverdampedLangevin,
                   dict(learning_rate=0.05, temperature=0.01, seed=3)),
    "underdamped": (UnderdampedLangevin,
                    dict(learning_rate=0.3, temperature=0.01, seed=3)),
    "dsgd": (DSGD, {}),
    "riemannian_adam": (RiemannianAdam, dict(learning_rate=0.05,
                                             amsgrad=True)),
}
NAMES = list(OPTIMIZERS)


def make(name, **kwargs):
    cls, defaults = OPTIMIZERS[name]
    return cls(**{**defaults, **kwargs})


def small_model():
    # A curved set (Sphere: its averages lie inside it) and one held in
    # other coordinates by the Langevin optimizers (MagnitudeBound). One
    # shape, no biases: few steps to compile under TensorFlow.
    return keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(4, activation="tanh", use_bias=False,
                           name="sphere",
                           kernel_constraint=constraints.Sphere(1.0)),
        keras.layers.Dense(
            4, use_bias=False, name="box",
            kernel_initializer=keras.initializers.RandomUniform(-0.3, 0.3),
            kernel_constraint=constraints.MagnitudeBound(0.3)),
    ])


def data(n=16):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, 4)).astype("float32"),
            rng.normal(size=(n, 4)).astype("float32"))


def compiled_model(optimizer, **compile_kwargs):
    model = small_model()
    model.compile(optimizer=optimizer, loss="mse", **compile_kwargs)
    return model


def state(model):
    return [to_numpy(v).copy()
            for v in model.trainable_variables + model.optimizer.variables]


class Recorder(keras.callbacks.Callback):
    """After every step: the weights, the optimizer's moving averages and
    the coordinates the Langevin optimizers hold (the arc lengths on
    `MagnitudeBound`'s circles; None elsewhere, and for DSGD)."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        model = self.model  # under JAX, reading it syncs the state
        optimizer = model.optimizer
        self.steps.append({
            "weights": [to_numpy(v).copy()
                        for v in model.trainable_variables],
            "averages": [to_numpy(a).copy() for a in getattr(
                optimizer, "_model_variables_moving_average", [])],
            "coordinates": coordinates(optimizer, model.trainable_variables),
        })


def coordinates(optimizer, variables):
    """The coordinates a manifold optimizer holds for each of `variables`
    (None where the weights are the coordinates, and for DSGD)."""
    if not hasattr(optimizer, "variable_state"):
        return [None] * len(variables)
    held = [optimizer.variable_state(v).coordinates for v in variables]
    return [None if c is None else to_numpy(c).copy() for c in held]


def assert_on_sets(variables, values):
    for v, w in zip(variables, values):
        if v.constraint is not None:
            assert float(v.constraint.violation(w)) < 1e-5, v.path


def assert_coordinates_follow_the_weights(variables, weights, coordinates):
    """The coordinates stand for the weights (the next step starts there)."""
    for v, w, q in zip(variables, weights, coordinates):
        if q is not None:
            np.testing.assert_allclose(to_numpy(v.constraint.lower(q)), w,
                                       atol=1e-6, err_msg=v.path)


@pytest.mark.parametrize("name", NAMES)
def test_moving_average_of_the_weights(name):
    """`use_ema`: Keras' average, and every overwrite with it (every
    `ema_overwrite_frequency` steps, and `finalize_variable_values` at the
    end of `fit`) projected onto the sets, the dynamics going on from
    there. Steps large enough for the averages to leave the sphere."""
    momentum = 0.5
    model = compiled_model(make(
        name, use_ema=True, ema_momentum=momentum, ema_overwrite_frequency=3,
        **({"smoothness": 0.2, "norm": "frobenius"} if name == "dsgd"
           else {"temperature": 0.1} if name in ("overdamped", "underdamped")
           else {})))
    recorder = Recorder()
    x, y = data()
    model.fit(x, y, batch_size=4, shuffle=False, verbose=0,
              callbacks=[recorder])
    variables = model.trainable_variables
    steps = recorder.steps
    assert len(steps) == 4
    if name != "dsgd":
        # Keras' average: the weights after the first step, then
        # `m * average + (1 - m) * weights` after each step. (DSGD, like
        # Keras' own optimizers, leaves the projection onto the sets to
        # Keras, which averages the weights before it.)
        for a, w in zip(steps[0]["averages"], steps[0]["weights"]):
            np.testing.assert_allclose(a, w, atol=1e-6)
        for k in (1, 3):  # step 3 overwrote the weights (see below)
            for a, previous, w in zip(steps[k]["averages"],
                                      steps[k - 1]["averages"],
                                      steps[k]["weights"]):
                np.testing.assert_allclose(
                    a, momentum * previous + (1 - momentum) * w, atol=1e-6)
    # The third step overwrote the weights with their averages, each
    # projected onto its set; so did `fit` at its end.
    for weights, averages in ((steps[2]["weights"], steps[2]["averages"]),
                              ([to_numpy(v) for v in variables],
                               steps[3]["averages"])):
        for v, w, a in zip(variables, weights, averages):
            expected = a if v.constraint is None else to_numpy(
                v.constraint(a))
            np.testing.assert_allclose(w, expected, atol=1e-6)
        assert_on_sets(variables, weights)
    # The average itself lies off the sphere: the projection moved it.
    sphere = model.get_layer("sphere").kernel
    assert variables[0] is sphere
    average = steps[3]["averages"][0]
    assert np.max(np.abs(to_numpy(sphere.constraint(average)) - average)
                  ) > 1e-4
    assert_coordinates_follow_the_weights(variables, steps[2]["weights"],
                                          steps[2]["coordinates"])
    assert_coordinates_follow_the_weights(
        variables, [to_numpy(v) for v in variables],
        coordinates(model.optimizer, variables))
    if name != "dsgd":  # the arc lengths on MagnitudeBound's circles
        assert steps[2]["coordinates"][1] is not None


def clipped(grads, clip, value):
    if clip == "clipvalue":
        return [np.clip(g, -value, value) for g in grads]
    if clip == "clipnorm":
        return [g * value / max(np.linalg.norm(g), value) for g in grads]
    total = math.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * value / max(total, value) for g in grads]


@pytest.mark.parametrize("name", NAMES)
def test_gradient_clipping(name):
    # A clipping optimizer given `g` takes the step of the same optimizer
    # without clipping given the clipped `g`, not its step given `g`. Two
    # variables of one shape (one compiled step each under TensorFlow);
    # DSGD with a fixed `L`, whose step scales with the gradient.
    rng = np.random.default_rng(1)
    start = [rng.normal(size=6).astype("float32") for _ in range(2)]
    variables = [keras.Variable(w, name=n) for w, n in zip(start, "ab")]
    grads = [3 * rng.normal(size=6).astype("float32") for _ in range(2)]
    fixed = {"smoothness": 1.0, "norm": "frobenius"} if name == "dsgd" else {}
    plain = make(name, **fixed)  # reset to its fresh state for each use
    plain.build(variables)
    fresh = [to_numpy(v).copy() for v in plain.variables]

    def step(optimizer, given):
        for v, w in zip(variables + plain.variables, start + fresh):
            v.assign(w)
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in given],
                        variables)
        return [to_numpy(v) for v in variables]

    unclipped = step(plain, grads)
    for clip in ("clipvalue", "clipnorm", "global_clipnorm"):
        expected = step(plain, clipped(grads, clip, 0.5))
        for a, b in zip(step(make(name, **fixed, **{clip: 0.5}), grads),
                        expected):
            np.testing.assert_allclose(a, b, atol=1e-6, err_msg=clip)
        assert not all(np.allclose(a, b)
                       for a, b in zip(expected, unclipped)), clip


@pytest.mark.parametrize("name", NAMES)
def test_weight_decay_excludes_what_it_is_told_to(name):
    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(4, name="free"),
        # Decayed weights would stand (as the start of the arc lengths).
        keras.layers.Dense(
            3, name="box", bias_initializer="ones",
            kernel_initializer=keras.initializers.RandomUniform(-0.5, 0.5),
            kernel_constraint=constraints.MagnitudeBound(1.0)),
    ])
    if name == "dsgd":  # it moves one layer per step
        with pytest.raises(ValueError, match="weight_decay"):
            DSGD(weight_decay=0.5)
        return
    h = 0.3
    optimizer = OPTIMIZERS[name][0](h, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    variables = model.trainable_variables
    before = [to_numpy(v).copy() for v in variables]
    # A zero gradient at temperature 0: only the decay moves a weight.
    optimizer.apply([np.zeros(v.shape, "float32") for v in variables],
                    variables)
    for v, w in zip(variables, before):
        decayed = v.name == "kernel" and v.constraint is None
        np.testing.assert_allclose(to_numpy(v), w * (1 - 0.5 * h)
                                   if decayed else w, atol=1e-6,
                                   err_msg=v.path)


@pytest.mark.parametrize("name", NAMES)
def test_learning_rate_callbacks_set_the_step(name):
    # Particles in the potential `|w|^2 / 2` (gradient `w`), no noise: the
    # steps follow in closed form from the learning rates the callbacks
    # set, epoch by epoch (one step each).
    a = 0.4
    if name == "dsgd":  # Frobenius, L = 1: gradient descent, rate `a`
        optimizer = DSGD(a, smoothness=1.0, norm="frobenius")
    elif name == "overdamped":  # SGD
        optimizer = OverdampedLangevin(a)
    elif name == "riemannian_adam":
        optimizer = RiemannianAdam(a)
    else:
        optimizer = UnderdampedLangevin(a, friction=2.0)
    model, layer = particle_model(optimizer, shape=(4,), curvature=1.0,
                                  initializer="ones")
    callbacks = [
        keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: lr * (0.5 if epoch == 1 else 1.0)),
        # No epoch improves by 1e9: after the first, each one's end
        # multiplies the rate by 0.2.
        keras.callbacks.ReduceLROnPlateau(
            "loss", factor=0.2, patience=1, min_delta=1e9, mode="min"),
    ]
    model.fit(np.zeros((1, 1), "float32"), epochs=3, verbose=0,
              callbacks=callbacks)
    q, p = np.ones(4), np.zeros(4)
    m, v = np.zeros(4), np.zeros(4)  # Adam's moments
    for t, h in enumerate((a, a / 2, a / 10), 1):
        if name == "underdamped":  # BAOAB without noise, exact flow
            c = math.exp(-2.0 * h)
            p = p - h * q
            q = q + 0.5 * h * (1 + c) * p
            p = c * p
        elif name == "riemannian_adam":
            m, v = 0.9 * m + 0.1 * q, 0.999 * v + 0.001 * q**2
            alpha = h * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            q = q - alpha * m / (np.sqrt(v) + 1e-7)
        else:
            q = q - h * q
    # Adam's `1 - beta_2**t` loses digits in float32.
    np.testing.assert_allclose(to_numpy(layer.w), q, rtol=(
        1e-4 if name == "riemannian_adam" else 1e-5))
    assert float(model.optimizer.learning_rate) == pytest.approx(a / 50)


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise RuntimeError("interrupted")


def assert_states_equal(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_resuming_mid_epoch_and_steps_per_execution(name, tmp_path):
    """`BackupAndRestore` saving every step restores the weights, the
    optimizer's state and the noise's seed state: a new model resumed from
    it takes the steps that the interrupted one takes when it goes on,
    there with `steps_per_execution=2` (the torch trainer allows only 1).

    Keras 3's `BackupAndRestore` resumes at the start of the interrupted
    epoch, from the state of its last save (as for any optimizer): both go
    on over epochs 1 and 2, 4 batches each, after 6 steps.
    """
    x, y = data()
    fit = dict(x=x, y=y, batch_size=4, shuffle=False, verbose=0)
    backup = str(tmp_path / "backup")
    interrupted = compiled_model(make(name), steps_per_execution=(
        1 if keras.config.backend() == "torch" else 2))
    with pytest.raises(RuntimeError, match="interrupted"):
        interrupted.fit(**fit, epochs=3, callbacks=[
            keras.callbacks.BackupAndRestore(backup, save_freq=1),
            InterruptAt(epoch=1, batch=1)])
    assert int(interrupted.optimizer.iterations) == 6
    resumed = compiled_model(make(name))  # as in a new process
    resumed.fit(**fit, epochs=3, callbacks=[
        keras.callbacks.BackupAndRestore(backup)])
    interrupted.fit(**fit, epochs=2)
    assert int(resumed.optimizer.iterations) == 14
    assert_states_equal(state(resumed), state(interrupted))
    assert_on_sets(resumed.trainable_variables,
                   [to_numpy(v) for v in resumed.trainable_variables])


LOAD = """
import sys
try:
    import keras
    import keras_constrained  # registers the package's objects
except ImportError as error:
    print(error)
    sys.exit(77)
import numpy as np

path, out = sys.argv[1:]
model = keras.saving.load_model(path)
x = np.load(path + ".x.npy")
np.savez(out, *[np.asarray(v) for v in model.optimizer.variables],
         prediction=np.asarray(model.predict(x, verbose=0)))
"""


@pytest.mark.skipif(keras.config.backend() != "torch",
                    reason="saves under torch in this process and loads "
                    "under JAX and TensorFlow in subprocesses: the torch "
                    "run of the suite does it")
def test_a_keras_file_saved_under_torch_loads_under_jax_and_tensorflow(
        tmp_path):
    model = keras.Sequential([
        keras.Input((4,)),
        layers.Hamiltonian(depth=2, step_size=0.1),
        layers.BatchlessNormalization(),
        layers.WeightNormalization(keras.layers.Dense(
            3, kernel_constraint=constraints.Orthogonal())),
    ])
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32")
    model.fit(x, rng.normal(size=(8, 3)).astype("float32"), verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    np.save(path + ".x.npy", x)
    expected = [to_numpy(model.predict(x, verbose=0))] + [
        to_numpy(v) for v in model.optimizer.variables]
    runs = {backend: subprocess.Popen(
        [sys.executable, "-c", LOAD, path, str(tmp_path / backend)],
        env={**os.environ, "KERAS_BACKEND": backend},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for backend in ("jax", "tensorflow")}
    for backend, run in runs.items():
        output = run.communicate(timeout=300)[0]
        if run.returncode == 77:
            pytest.skip(f"{backend} is not importable: {output.strip()}")
        assert run.returncode == 0, output
        loaded = np.load(str(tmp_path / backend) + ".npz")
        values = [loaded["prediction"]] + [
            loaded[f"arr_{i}"] for i in range(len(loaded.files) - 1)]
        assert len(values) == len(expected), backend
        for a, b in zip(values, expected):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6,
                                       err_msg=backend)
