"""The Langevin optimizers sample what they claim (fixed seeds, honest
tolerances). Many independent particles held in one weight are sampled at
once, so one run gives a large independent sample."""

import math

import numpy as np
import pytest
from helpers import particle_model
from helpers import run_steps
from helpers import to_numpy
from scipy import stats

from keras_constrained import constraints
from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import UnderdampedLangevin

SAMPLERS = {
    "overdamped": lambda h, T: OverdampedLangevin(h, temperature=T, seed=3),
    "BAOAB": lambda h, T: UnderdampedLangevin(h, friction=1.0, temperature=T,
                                              seed=3),
    "OBA": lambda h, T: UnderdampedLangevin(h, friction=1.0, temperature=T,
                                            scheme="OBA", seed=3),
}


def stationary_variance(sampler, h, temperature, k, friction=1.0):
    """Exact stationary variance of w for the quadratic loss k w^2 / 2.

    Each scheme is a linear recursion x' = M x + L r in x = (w, p); its
    stationary covariance solves S = M S M^T + L L^T.
    """
    if sampler == "overdamped":
        return 2 * h * temperature / (1 - (1 - h * k) ** 2)
    c = math.exp(-friction * h)
    kick = np.array([[1.0, 0.0], [-h * k, 1.0]])               # B(h)
    drift = lambda t: np.array([[1.0, t], [0.0, 1.0]])          # A(t)
    damp = np.diag([1.0, c])                                     # O
    noise = np.array([0.0, math.sqrt(temperature * (1 - c * c))])
    if sampler == "BAOAB":
        m = drift(h / 2) @ damp @ drift(h / 2) @ kick
        l = drift(h / 2) @ noise
    else:  # OBA
        m = drift(h) @ kick @ damp
        l = drift(h) @ kick @ noise
    cov = np.linalg.solve(np.eye(4) - np.kron(m, m),
                          np.outer(l, l).ravel()).reshape(2, 2)
    return cov[0, 0]


def test_baoab_samples_gaussians_without_bias():
    # A known property of BAOAB, checked on the formula the test relies on.
    assert stationary_variance("BAOAB", 0.5, 0.3, 2.0) == pytest.approx(
        0.3 / 2.0, rel=1e-12)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_quadratic_loss_gives_the_gaussian_of_variance_t_over_k(sampler):
    h, temperature, k, n = 0.1, 0.5, 2.0, 20000
    model, layer = particle_model(SAMPLERS[sampler](h, temperature),
                                  shape=(n,), curvature=k)
    run_steps(model, 600)
    w = to_numpy(layer.w).astype("float64")
    expected = stationary_variance(sampler, h, temperature, k)
    # The schemes' own O(h) bias at this step (none for BAOAB).
    assert expected == pytest.approx(temperature / k, rel=0.12)
    # Sample variance of n normals: relative standard error sqrt(2 / n) = 1%.
    assert np.var(w) == pytest.approx(expected, rel=0.04)
    assert abs(np.mean(w)) <= 4 * math.sqrt(expected / n)
    assert stats.normaltest(w).pvalue > 1e-3


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_flat_loss_on_magnitude_bound_gives_the_arcsine_law(sampler):
    r, n = 0.5, 20000
    model, layer = particle_model(
        SAMPLERS[sampler](0.1, 0.25), shape=(n,),
        constraint=constraints.MagnitudeBound(r))
    run_steps(model, 600)
    w = to_numpy(layer.w).astype("float64")
    assert np.abs(w).max() <= r * (1 + 1e-6)
    # Arcsine law on [-r, r]: F(w) = 1/2 + arcsin(w / r) / pi.
    cdf = lambda x: 0.5 + np.arcsin(np.clip(x / r, -1, 1)) / np.pi
    assert stats.kstest(w, cdf).pvalue > 1e-3
    assert stats.kstest(w, stats.uniform(-r, 2 * r).cdf).pvalue < 1e-6


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_flat_loss_on_sphere_gives_the_uniform_distribution(sampler):
    r, n = 2.0, 20000
    model, layer = particle_model(
        SAMPLERS[sampler](0.1, 1.0), shape=(3, n),
        constraint=constraints.Sphere(r), initializer="ones")
    run_steps(model, 600)
    x = to_numpy(layer.w).astype("float64")
    np.testing.assert_allclose(np.linalg.norm(x, axis=0), r, rtol=1e-5)
    # Archimedes: each coordinate of a uniform point on the 2-sphere is
    # uniform on [-r, r]; the second moments are r^2 / 3 * I.
    for coordinate in x:
        assert stats.kstest(coordinate, stats.uniform(-r, 2 * r).cdf
                            ).pvalue > 1e-3
    np.testing.assert_allclose(x @ x.T / n, r * r / 3 * np.eye(3), atol=0.06)
