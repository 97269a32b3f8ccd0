"""DSGD's layer norms: dual norms and duality maps against NumPy's SVD."""

import keras
import numpy as np
import pytest
from helpers import compiled
from helpers import spectral_reference
from helpers import to_numpy

from keras_constrained.optimizers import layer_norms


def matrices(dtype):
    rng = np.random.default_rng(0)
    low_rank = rng.normal(size=(30, 4)) @ rng.normal(size=(4, 20))
    return {"tall": rng.normal(size=(40, 12)).astype(dtype),
            "wide": rng.normal(size=(7, 25)).astype(dtype),
            "rank 4 of 20": low_rank.astype(dtype),
            "column": rng.normal(size=(9, 1)).astype(dtype)}


def both(norm, g):
    """`dual_norm` and `unit_dualizer` of `g`, traced as a train step is."""
    def measure_and_direct(g):
        dual, measure = layer_norms.NORMS[norm].dual_norm(g)
        return dual, layer_norms.NORMS[norm].unit_dualizer(g, measure)

    return [to_numpy(t) for t in compiled(measure_and_direct)(g)]


def skip_float64_without_x64(dtype):
    if dtype == "float64" and keras.config.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX computes in float32 unless x64 is enabled")


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-5),
                                         ("float64", 1e-10)])
@pytest.mark.parametrize("name", ["tall", "wide", "rank 4 of 20", "column"])
def test_spectral_dual_norm_and_direction_match_the_svd(name, dtype, rtol):
    skip_float64_without_x64(dtype)
    g = matrices(dtype)[name]
    s = np.linalg.svd(g.astype("float64"), compute_uv=False)
    reference, direction = spectral_reference(g, dtype)
    dual, u = both("spectral", g)
    assert u.dtype == np.dtype(dtype)
    # Singular values that are 0 in exact arithmetic are rounding noise of
    # up to a few `eps sigma_max^2` in the Gram matrix (`tau / 6`); each
    # then adds at most `(15 / 8) (tau / 6) / sqrt(tau)` to the dual norm.
    tau = layer_norms.ROUNDING_UNITS * np.finfo(dtype).eps * s[0] ** 2
    noise = np.sum(s < 1e-6 * s[0]) * 0.32 * np.sqrt(tau)
    np.testing.assert_allclose(dual, reference, rtol=rtol, atol=noise)
    np.testing.assert_allclose(u, direction, atol=10 * rtol + noise / s[0])
    # What DSGD's descent bound uses: `||u||_2 <= 1` and `<g, u> = dual`,
    # a lower bound of the nuclear norm, here equal to it but for `tau`.
    assert np.linalg.norm(u.astype("float64"), 2) <= 1 + rtol
    np.testing.assert_allclose(np.sum(g * u), dual, rtol=rtol, atol=noise)
    assert dual <= s.sum() * (1 + rtol) + noise
    full_rank = s[-1] > 1e-6 * s[0]
    np.testing.assert_allclose(dual, s.sum(), rtol=rtol if full_rank else 0,
                               atol=0 if full_rank else noise)


def test_on_a_spread_spectrum_the_dual_norm_keeps_its_documented_bound():
    # A 785 x 256 gradient-sized matrix of rank 128 with singular values
    # spread over four decades, like a mini-batch gradient's.
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.normal(size=(785, 128)))
    v, _ = np.linalg.qr(rng.normal(size=(256, 128)))
    s = np.logspace(0, -4, 128)
    g = ((u * s) @ v.T).astype("float32")
    dual, direction = both("spectral", g)
    tau = layer_norms.ROUNDING_UNITS * np.finfo("float32").eps * s[0] ** 2
    weak = s[s ** 2 < 10 * tau].sum()
    assert s.sum() - weak - 3e-4 * s.sum() <= dual <= s.sum()
    assert np.linalg.norm(direction.astype("float64"), 2) <= 1 + 1e-5
    np.testing.assert_allclose(np.sum(g * direction), dual, rtol=5e-4)
    # The strong singular directions are those of the polar factor.
    strong = s ** 2 >= 10 * tau
    np.testing.assert_allclose(
        u[:, strong].T @ direction @ v[:, strong], np.eye(strong.sum()),
        atol=1e-3)


def test_a_saturated_layer_gradient_is_measured():
    # Rank 8 of 256 with 99 zero columns (dead units) and rows equal up to
    # sign (saturated inputs), like a gradient of a saturated tanh MLP: torch
    # 2.13's float32 eigh failed to converge on this Gram matrix (with 1 and
    # 2 threads, on the machine this was written on; `_backend.ops.eigh` then
    # retries in float64).
    rng = np.random.default_rng(288)
    signs = np.sign(rng.standard_normal((257, 8)))
    factors = rng.standard_normal((256, 8)) * 10.0 ** rng.uniform(-3, 0, 8)
    factors[rng.permutation(256)[:99]] = 0.0
    g = (signs @ factors.T).astype("float32")
    s = np.linalg.svd(g.astype("float64"), compute_uv=False)
    dual, direction = both("spectral", g)
    tau = layer_norms.ROUNDING_UNITS * np.finfo("float32").eps * s[0] ** 2
    noise = np.sum(s < 1e-6 * s[0]) * 0.32 * np.sqrt(tau)
    assert s.sum() * (1 - 1e-4) - noise <= dual
    assert dual <= s.sum() * (1 + 1e-5) + noise
    assert np.linalg.norm(direction.astype("float64"), 2) <= 1 + 1e-5
    # The Gram matrix's rounding noise in the 248 zero singular values moves
    # `dual` by 5e-4 of itself, well inside `noise`.
    np.testing.assert_allclose(np.sum(g * direction), dual, rtol=1e-3)


def test_frobenius_dual_norm_and_duality_map():
    g = matrices("float32")["tall"]
    norm = np.linalg.norm(g)
    dual, unit = both("frobenius", g)
    np.testing.assert_allclose(dual, norm, rtol=1e-6)
    np.testing.assert_allclose(unit, g / norm, rtol=1e-6)


@pytest.mark.parametrize("norm", layer_norms.NORMS)
def test_a_zero_gradient_has_zero_dual_norm_and_direction(norm):
    g = np.zeros((5, 3), "float32")
    dual, unit = both(norm, g)
    assert dual == 0.0
    assert not np.any(unit)


def test_power_iteration_converges_to_the_largest_singular_value():
    g = matrices("float32")["tall"]
    v = np.full(12, 12**-0.5, "float32")
    step = compiled(layer_norms.spectral_norm)  # eager JAX re-traces conds
    for _ in range(100):
        sigma, v = step(g, v)
    np.testing.assert_allclose(float(sigma), np.linalg.norm(g, 2), rtol=1e-5)


@pytest.mark.parametrize("norm", layer_norms.NORMS)
def test_a_gradient_whose_squares_overflow_is_measured(norm):
    # Entries of 2^70 (1.2e21): their squares overflow float32. The scale
    # is a power of two, so the result is that of `g` times it exactly.
    g = matrices("float32")["tall"]
    dual, unit = both(norm, g)
    huge_dual, huge_unit = both(norm, g * np.float32(2.0**70))
    assert np.isfinite(huge_dual)
    np.testing.assert_allclose(huge_dual, dual * 2.0**70, rtol=1e-6)
    np.testing.assert_allclose(huge_unit, unit, rtol=1e-6, atol=1e-7)
