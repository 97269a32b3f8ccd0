"""Float64 models compute in float64 on every backend, JAX included.

Under JAX, Keras 3.15 computes some ops in float32 even on float64 tensors
(see `keras_constrained._backend.ops._keeping_float64`). JAX computes in float64
only when `JAX_ENABLE_X64` is set before it is imported: without it, the
last test reruns this file in a fresh interpreter with it set.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import compiled
from helpers import to_numpy
from keras import ops

from keras_constrained import constraints
from keras_constrained.layers import BatchlessNormalization
from keras_constrained.layers import Hamiltonian
from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import PreconditionedLangevin
from keras_constrained.optimizers import RiemannianAdam
from keras_constrained.optimizers import RiemannianSGD
from keras_constrained.optimizers import UnderdampedLangevin

JAX = keras.config.backend() == "jax"
if JAX:
    import jax

X64 = not JAX or jax.config.jax_enable_x64
needs_x64 = pytest.mark.skipif(
    not X64, reason="JAX without x64: run by the last test in a fresh "
                    "interpreter")


@pytest.fixture(autouse=True)
def float64_floatx():
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(floatx)


def appendix_iii_step(activation="tanh", depth=1):
    """Steps of the 2-D system `y' = J tanh(y)` of the paper's Appendix III:
    an H2 network with `K = I`, `b = 0` and `h = 0.05`."""
    layer = Hamiltonian(depth=depth, step_size=0.05, activation=activation,
                        kernel_initializer="ones", bias_initializer="zeros")
    layer.build((None, 2))
    return layer


@needs_x64
def test_appendix_iii_trajectory_is_float64_accurate():
    # To T = 20: 400 steps, one layer step at a time (the same map as a
    # network of depth 400, whose compilation takes minutes).
    step = compiled(appendix_iii_step())
    y0 = y = np.array([[1.0, 0.5]])
    for _ in range(400):
        y = step(y)
    y = to_numpy(y)[0]
    assert y.dtype == "float64"
    p, q = y0[0]
    for _ in range(400):
        p -= 0.05 * np.tanh(q)
        q += 0.05 * np.tanh(p)
    np.testing.assert_allclose(y, [p, q], rtol=0, atol=1e-12)


@needs_x64
def test_constraint_geometry_is_float64_accurate():
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.3, 0.3, (5, 4))
    bound = constraints.MagnitudeBound(0.2)
    s = bound.lift(w)
    np.testing.assert_allclose(to_numpy(s), 0.2 * np.arcsin(
        np.clip(w, -0.2, 0.2) / 0.2), rtol=0, atol=1e-15)
    np.testing.assert_allclose(to_numpy(bound.lower(s)),
                               np.clip(w, -0.2, 0.2), rtol=0, atol=1e-15)
    # Sphere: the great circle from x with tangent velocity v, in closed
    # form.
    x = w / np.linalg.norm(w, axis=0)
    v = rng.normal(size=(5, 4))
    v -= x * np.sum(x * v, axis=0)
    speed = np.linalg.norm(v, axis=0)
    expected = x * np.cos(speed * 0.7) + v / speed * np.sin(speed * 0.7)
    x_new, _ = constraints.Sphere(1.0).move(ops.convert_to_tensor(x),
                                            ops.convert_to_tensor(v), 0.7)
    np.testing.assert_allclose(to_numpy(x_new), expected, rtol=0,
                               atol=1e-14)


@needs_x64
@pytest.mark.parametrize("std_parametrization", ["log", "abs", "inv"])
def test_batchless_initial_statistics_are_float64_accurate(
        std_parametrization):
    # Around 1e4, a float32 average loses the digits below 1e-3.
    x = 1e4 + np.random.default_rng(2).normal(size=(64, 3))
    layer = BatchlessNormalization(std_parametrization=std_parametrization)
    layer.build((None, 3))
    layer.initialize(x)
    np.testing.assert_allclose(to_numpy(layer.mean), x.mean(0), rtol=1e-14)
    inverse_std, _ = layer.inverse_and_log_std()
    np.testing.assert_allclose(1 / to_numpy(inverse_std), x.std(0),
                               rtol=1e-12)


@pytest.mark.skipif(not JAX or not X64, reason="inspects jaxprs")
def test_jaxprs_hold_no_float32():
    def assert_float64(name, fn, *args):
        jaxpr = str(jax.make_jaxpr(fn)(*args))
        assert "f32" not in jaxpr, name

    def assert_step_float64(optimizer, kernels, grads):
        optimizer.build(kernels)
        assert_float64(optimizer.name, optimizer.stateless_apply,
                       [v.value for v in optimizer.variables], grads,
                       [v.value for v in kernels])

    y = np.random.default_rng(1).normal(size=(3, 2))
    for activation in ("tanh", "sigmoid", "relu"):
        layer = appendix_iii_step(activation, depth=2)
        assert_float64(activation, layer, y)
        assert_float64(activation, layer.step_jacobians, y)
    # A step of every constraint's geometry, as the optimizers compile it.
    geometries = [constraints.Orthogonal(), constraints.Sphere(1.0),
                  constraints.MagnitudeBound(0.5),
                  constraints.SparsityMask(np.tril(np.ones((6, 4))))]
    kernels = [keras.Variable(np.eye(6)[:, :4]) for _ in geometries]
    for kernel, c in zip(kernels, geometries):
        kernel.constraint = c
    grads = [np.full((6, 4), 0.1)] * len(kernels)
    for optimizer in (
            UnderdampedLangevin(temperature=1e-3, seed=0),
            UnderdampedLangevin(scheme="OBA", temperature=1e-3, seed=0),
            UnderdampedLangevin(temperature=1e-3, thermostat_mass=1.0,
                                seed=0),
            OverdampedLangevin(temperature=1e-3, seed=0),
            RiemannianAdam(amsgrad=True),
            RiemannianSGD(momentum=0.9, nesterov=True)):
        assert_step_float64(optimizer, kernels, grads)
    # pSGLD takes only the geometries that act coordinate by coordinate.
    elementwise = [k for k in kernels if k.constraint.elementwise]
    assert_step_float64(PreconditionedLangevin(temperature=1e-3, seed=0),
                        elementwise, grads[:len(elementwise)])
    for c in geometries:
        assert_float64(type(c).__name__, c, np.eye(6)[:, :4])
        assert_float64(type(c).__name__, c.violation, np.eye(6)[:, :4])


@pytest.mark.skipif(not JAX or X64, reason="JAX without x64 only")
def test_this_file_passes_under_jax_with_x64():
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_ENABLE_X64="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         __file__], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "passed" in result.stdout.splitlines()[-1], result.stdout
