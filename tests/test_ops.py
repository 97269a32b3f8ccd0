"""The backend workarounds in `keras_constrained._backend` compute what they
replace."""

import keras
import numpy as np
import pytest

from helpers import compiled
from helpers import to_numpy
from keras_constrained._backend import control_flow
from keras_constrained._backend import fused_update
from keras_constrained._backend import ops as backend_ops
from keras_constrained._backend import trigonometry

# JAX computes in float32 unless x64 is enabled, which these tests leave be.
FLOAT64 = pytest.param(
    "float64", 1e-15, marks=pytest.mark.skipif(
        keras.config.backend() == "jax", reason="JAX without x64"))


@pytest.mark.parametrize("ours, exact", [(trigonometry.sin_of_angle, np.sin),
                                         (trigonometry.cos_of_angle, np.cos)])
@pytest.mark.parametrize("dtype, tolerance", [("float32", 3e-7), FLOAT64])
def test_sine_and_cosine_of_an_angle(ours, exact, dtype, tolerance):
    x = np.linspace(-np.pi, np.pi, 100_001).astype(dtype)
    y = to_numpy(ours(x))
    assert y.dtype == dtype
    np.testing.assert_allclose(y, exact(x.astype("float64")), rtol=0,
                               atol=tolerance)
    assert np.abs(y).max() <= 1.0


@pytest.mark.skipif(keras.config.backend() == "jax",
                    reason="JAX without x64")
def test_matmul_keeps_float64():
    a = np.random.default_rng(0).normal(size=(3, 4))
    b = np.random.default_rng(1).normal(size=(4, 2))
    product = to_numpy(backend_ops.matmul(a, b))
    assert product.dtype == "float64"
    np.testing.assert_allclose(product, a @ b, rtol=1e-14)


def test_fused_update_assigns_what_its_function_computes():
    def fn(x, pair, nothing):
        assert nothing is None
        return [x * pair[0] + pair[1], pair[0] - x]

    x = keras.Variable(np.array([1.0, -2.0], "float32"))
    pair = [keras.ops.convert_to_tensor(np.array([3.0, 4.0], "float32")),
            keras.ops.convert_to_tensor(np.array([0.5, 0.25], "float32"))]
    fused_update.fused_update(fn)(keras.optimizers.SGD(), [x, None], x, pair, None)
    np.testing.assert_allclose(to_numpy(x), [3.5, -7.75])


@pytest.mark.parametrize("pred", [True, False])
def test_cond_takes_the_branch_its_predicate_names(pred):
    x = keras.ops.convert_to_tensor(np.array([1.0, 2.0], "float32"))
    chosen = control_flow.cond(keras.ops.convert_to_tensor(pred),
                       lambda: x + 1.0, lambda: x - 1.0)
    np.testing.assert_allclose(to_numpy(chosen),
                               [2.0, 3.0] if pred else [0.0, 1.0])


def test_call_on_host_if_calls_at_each_run_where_the_predicate_holds():
    calls = []

    def step(pred):
        called = control_flow.call_on_host_if(pred, lambda: calls.append(1))
        assert called
        return keras.ops.where(pred, 1.0, 0.0)

    step = compiled(step)
    for pred in [True, False, True, False]:
        to_numpy(step(keras.ops.convert_to_tensor(pred)))
    assert len(calls) == 2
