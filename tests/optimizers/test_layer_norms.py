"""DSGD's layer norms: dual norms and duality maps against NumPy's SVD."""

import keras
import numpy as np
import pytest
from helpers import compiled
from helpers import to_numpy

from keras_constrained.optimizers import layer_norms


def matrices(dtype):
    rng = np.random.default_rng(0)
    low_rank = rng.normal(size=(30, 4)) @ rng.normal(size=(4, 20))
    return {"tall": rng.normal(size=(40, 12)).astype(dtype),
            "wide": rng.normal(size=(7, 25)).astype(dtype),
            "rank 4 of 20": low_rank.astype(dtype),
            "column": rng.normal(size=(9, 1)).astype(dtype)}


def svd_reference(g):
    u, s, vh = np.linalg.svd(g.astype("float64"), full_matrices=False)
    rank = int(np.sum(s > 1e-6 * s[0]))
    return s, u[:, :rank] @ vh[:rank]


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-5),
                                         ("float64", 1e-10)])
@pytest.mark.parametrize("name", ["tall", "wide", "rank 4 of 20", "column"])
def test_spectral_dual_norm_and_duality_map_match_the_svd(name, dtype, rtol):
    if dtype == "float64" and keras.config.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX computes in float32 unless x64 is enabled")
    g = matrices(dtype)[name]
    s, polar = svd_reference(g)
    both = compiled(lambda g: layer_norms.dual_norm_and_dualizer("spectral",
                                                                 g))
    nuclear, u = (to_numpy(t) for t in both(g))
    assert u.dtype == np.dtype(dtype)
    np.testing.assert_allclose(nuclear, s.sum(), rtol=rtol)
    np.testing.assert_allclose(u, polar, atol=10 * rtol)
    # The defining properties of a duality map for the spectral norm:
    # <g, u*> = ||g||_* and ||u*||_2 = 1.
    np.testing.assert_allclose(np.sum(g * u), s.sum(), rtol=rtol)
    np.testing.assert_allclose(np.linalg.norm(u.astype("float64"), 2), 1.0,
                               rtol=rtol)


def test_frobenius_dual_norm_and_duality_map():
    g = matrices("float32")["tall"]
    norm = np.linalg.norm(g)
    dual, unit = layer_norms.dual_norm_and_dualizer("frobenius", g)
    np.testing.assert_allclose(to_numpy(dual), norm, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(unit), g / norm, rtol=1e-6)


@pytest.mark.parametrize("norm", layer_norms.NORMS)
def test_a_zero_gradient_has_zero_dual_norm_and_direction(norm):
    g = np.zeros((5, 3), "float32")
    dual, unit = layer_norms.dual_norm_and_dualizer(norm, g)
    assert float(dual) == 0.0
    assert not np.any(to_numpy(unit))


def test_power_iteration_converges_to_the_largest_singular_value():
    g = matrices("float32")["tall"]
    v = np.full(12, 12**-0.5, "float32")
    for _ in range(100):
        sigma, v = layer_norms.spectral_norm(g, v)
        v = to_numpy(v)
    np.testing.assert_allclose(float(sigma), np.linalg.norm(g, 2), rtol=1e-5)
