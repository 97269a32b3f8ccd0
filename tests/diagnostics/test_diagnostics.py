"""Convergence diagnostics: R-hat, bulk/tail ESS, normal quantile."""

import math
import re

import keras
import numpy as np
import pytest

from keras_constrained import diagnostics
from keras_constrained.diagnostics import _chains
from keras_constrained.diagnostics._normal import normal_quantile

SHIFT = np.array([[0.0], [0.0], [0.0], [1.0]])  # one chain off by 1 sd


def ar1(rho, chains=4, draws=4000, seed=0):
    """Stationary Gaussian AR(1) chains `x_t = rho x_{t-1} + e_t`."""
    rng = np.random.default_rng(seed)
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains) / math.sqrt(1 - rho ** 2)
    noise = rng.normal(size=(chains, draws))
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + noise[:, t]
    return x


def reference_quantile(p):
    """`Phi^-1(p)` by bisection on `Phi(z) = erfc(-z / sqrt 2) / 2`.

    Above 1/2 it solves `erfc(z / sqrt 2) / 2 = 1 - p` instead (`1 - p` is
    exact there, while `Phi(z)` rounds to 1 in the upper tail).
    """
    if p > 0.5:
        return -reference_quantile(1.0 - p)
    low, high = -40.0, 0.0
    for _ in range(200):
        middle = (low + high) / 2
        if 0.5 * math.erfc(-middle / math.sqrt(2)) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def test_normal_quantile_matches_bisection_on_erfc():
    p = np.concatenate([np.logspace(-300, -1, 60), np.linspace(0.01, 0.99, 99),
                        1 - np.logspace(-15, -2, 20), [0.425, 0.075, 0.5]])
    reference = np.array([reference_quantile(value) for value in p])
    error = np.abs(normal_quantile(p) - reference)
    assert np.all(error <= 1e-14 * np.maximum(1.0, np.abs(reference)))
    assert normal_quantile(0.5) == 0.0
    assert normal_quantile(0.0) == -np.inf and normal_quantile(1.0) == np.inf


def test_pooled_ranks_average_ties():
    x = np.array([[3.0, 1.0], [1.0, 2.0]])[:, :, None]
    np.testing.assert_array_equal(_chains.pooled_ranks(x)[:, :, 0],
                                  [[4.0, 1.5], [1.5, 3.0]])


def test_rhat_of_iid_gaussian_chains_is_one():
    x = np.random.default_rng(0).normal(size=(4, 1000))
    assert abs(diagnostics.rhat(x) - 1.0) < 0.01
    assert abs(diagnostics.bulk_rhat(x) - 1.0) < 0.01
    assert abs(diagnostics.tail_rhat(x) - 1.0) < 0.01


def test_rhat_flags_chains_stuck_at_different_means():
    x = np.random.default_rng(1).normal(size=(4, 1000))
    # Means 0, 0, 0, 1: R-hat about 1.09-1.12 over seeds, so well past 1.01
    # but not reliably past 1.1; means 0, 0, 0, 2 give about 1.34.
    assert diagnostics.rhat(x + SHIFT) > 1.05
    assert diagnostics.rhat(x + 2 * SHIFT) > 1.2
    assert diagnostics.bulk_rhat(x + 2 * SHIFT) > 1.2


def test_rhat_flags_a_trend_within_chains_by_splitting():
    # Each chain drifts from -1 to 1: the chains agree with each other,
    # their halves do not.
    x = np.random.default_rng(2).normal(size=(4, 1000))
    x = x + np.linspace(-1.0, 1.0, 1000)
    assert diagnostics.rhat(x) > 1.1


def test_tail_rhat_flags_chains_that_differ_only_in_scale():
    x = np.random.default_rng(3).normal(size=(4, 1000))
    x = x * np.array([[1.0], [1.0], [1.0], [3.0]])  # equal means
    assert abs(diagnostics.bulk_rhat(x) - 1.0) < 0.01  # bulk misses it
    assert diagnostics.tail_rhat(x) > 1.1
    assert diagnostics.rhat(x) == diagnostics.tail_rhat(x) > 1.1


# The estimates' spread over seeds (20 seeds, measured): ESS 4% of the
# truth for rho = 0.5 and 4 x 4000 draws, 10% for rho = 0.9 (too wide for a
# 10% tolerance), 3.5% for rho = 0.9 and 4 x 40000 draws; tail ESS 5%, 9.5%
# and 4.5%. The tolerances below are 2.5-4 of those spreads.
AR1_CASES = [(0.5, 4000), (0.9, 40000)]


@pytest.mark.parametrize("rho, draws", AR1_CASES)
def test_ess_of_ar1_chains_matches_the_closed_form(rho, draws):
    x = ar1(rho, draws=draws, seed=int(10 * rho))
    expected = x.size * (1 - rho) / (1 + rho)
    assert diagnostics.ess(x) == pytest.approx(expected, rel=0.1)
    assert diagnostics.bulk_ess(x) == pytest.approx(expected, rel=0.1)


def tail_indicator_ess(rho, size, level=0.05, terms=1000):
    """`S / tau` of the indicator `x <= Phi^-1(level)` of a Gaussian AR(1).

    The indicator's autocovariance at lag `t` is `Phi2(q, q; rho^t) -
    level^2`, which by Plackett's identity `dPhi2/dr = phi2(q, q; r)` is
    `int_0^{rho^t} exp(-q^2 / (1 + s)) / (2 pi sqrt(1 - s^2)) ds`
    (Gauss-Legendre here).
    """
    q = reference_quantile(level)
    nodes, weights = np.polynomial.legendre.leggauss(64)
    total = 0.0
    for t in range(1, terms):
        r = rho ** t
        s = (nodes + 1) * r / 2
        density = np.exp(-q * q / (1 + s)) / (2 * np.pi * np.sqrt(1 - s * s))
        total += r / 2 * np.sum(weights * density)
    tau = 1 + 2 * total / (level * (1 - level))
    return size / tau


@pytest.mark.parametrize("rho, draws", AR1_CASES)
def test_tail_ess_of_ar1_chains_matches_the_indicator_theory(rho, draws):
    x = ar1(rho, draws=draws, seed=int(10 * rho) + 1)
    expected = tail_indicator_ess(rho, x.size)
    assert diagnostics.tail_ess(x) == pytest.approx(expected, rel=0.2)


def test_tail_indicator_theory_reduces_to_the_iid_case():
    assert tail_indicator_ess(1e-9, 1000) == pytest.approx(1000, rel=1e-6)


def test_ess_of_iid_draws_is_the_number_of_draws():
    x = np.random.default_rng(4).normal(size=(4, 1000))
    assert diagnostics.ess(x) == pytest.approx(x.size, rel=0.1)
    assert diagnostics.bulk_ess(x) == pytest.approx(x.size, rel=0.1)
    assert diagnostics.tail_ess(x) == pytest.approx(x.size, rel=0.15)


def test_antithetic_chains_are_capped_at_s_log10_s():
    x = ar1(-0.9, draws=1000, seed=5)
    assert x.size < diagnostics.ess(x) <= x.size * math.log10(x.size)


def test_bulk_diagnostics_do_not_change_under_a_monotone_map():
    x = ar1(0.7, draws=1000, seed=6)
    assert diagnostics.bulk_rhat(np.exp(x)) == diagnostics.bulk_rhat(x)
    assert diagnostics.bulk_ess(np.exp(x)) == diagnostics.bulk_ess(x)
    assert diagnostics.tail_ess(np.exp(x)) == diagnostics.tail_ess(x)


def test_an_odd_number_of_draws_drops_the_middle_one():
    x = np.random.default_rng(7).normal(size=(3, 101))
    even = np.delete(x, 50, axis=1)
    for function in (diagnostics.rhat, diagnostics.ess,
                     diagnostics.bulk_ess, diagnostics.tail_ess):
        assert function(x) == pytest.approx(function(even), rel=1e-12)


@pytest.mark.parametrize("name", diagnostics.__all__)
def test_each_element_of_a_trailing_shape_is_its_own_diagnostic(name):
    function = getattr(diagnostics, name)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 200, 3, 2)) * rng.uniform(0.5, 2.0, (4, 1, 3, 2))
    x += np.linspace(0.0, 1.0, 6).reshape(3, 2)
    result = function(x)
    assert isinstance(result, np.ndarray) and result.shape == (3, 2)
    expected = [[function(x[:, :, i, j]) for j in range(2)]
                for i in range(3)]
    np.testing.assert_allclose(result, expected, rtol=1e-12)
    assert isinstance(function(x[:, :, 0, 0]), float)


@pytest.mark.parametrize("name", diagnostics.__all__)
def test_constant_draws_give_nan(name):
    function = getattr(diagnostics, name)
    assert math.isnan(function(np.full((4, 50), 2.5)))
    x = np.random.default_rng(9).normal(size=(4, 50, 2))
    x[:, :, 1] = -1.0
    result = function(x)
    assert np.isfinite(result[0]) and math.isnan(result[1])


def test_chains_each_constant_but_different_have_infinite_rhat():
    x = np.repeat(np.arange(4.0)[:, None], 50, axis=1)
    assert diagnostics.rhat(x) == math.inf


@pytest.mark.parametrize("name", diagnostics.__all__)
@pytest.mark.parametrize("shape", [(1, 100), (4, 3), (100,), (), (1, 3, 2)])
def test_too_few_chains_or_draws_raise(name, shape):
    with pytest.raises(ValueError, match=re.escape(
            f"`draws` must be an array of finite numbers of shape (chains, "
            f"draws) or (chains, draws, *shape) with at least 2 chains and "
            f"4 draws; received draws of shape {shape}.")):
        getattr(diagnostics, name)(np.zeros(shape))


@pytest.mark.parametrize("name", diagnostics.__all__)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_draws_raise(name, bad):
    x = np.random.default_rng(10).normal(size=(4, 20, 2))
    x[1, 3, 1] = bad
    with pytest.raises(ValueError, match=re.escape(
            "received draws of shape (4, 20, 2) with non-finite entries.")):
        getattr(diagnostics, name)(x)


def test_non_numeric_draws_raise_a_type_error():
    with pytest.raises(TypeError, match="received draws of type list"):
        diagnostics.rhat([["a", "b", "c", "d"]] * 2)


def test_lists_and_backend_tensors_are_accepted():
    x = np.random.default_rng(11).normal(size=(4, 100)).astype("float32")
    expected = diagnostics.rhat(x)
    assert diagnostics.rhat(x.tolist()) == expected
    tensor = keras.ops.convert_to_tensor(x)
    assert diagnostics.rhat(keras.ops.convert_to_numpy(tensor)) == expected
