import keras
import numpy as np
import pytest
from helpers import compiled
from helpers import matrix_view
from helpers import to_numpy
from keras import ops

from keras_constrained.constraints import Orthogonal
from keras_constrained.constraints import orthogonal as orthogonal_module

SHAPES = [(12, 5), (5, 12), (7, 7), (3, 3, 2, 8), (1, 1, 4, 8), (3, 4, 16)]


def numpy_polar(w):
    """Polar factor of the kernel's matrix view, by SVD in float64."""
    m = matrix_view(w).astype("float64")
    u, _, vh = np.linalg.svd(m, full_matrices=False)
    return (u @ vh).reshape(np.shape(w))


def orthonormal_kernel(shape, seed=0):
    return numpy_polar(np.random.default_rng(seed).normal(size=shape))


def tall(m):
    m = matrix_view(m)
    return m if m.shape[0] >= m.shape[1] else m.T


def numpy_violation(w):
    m = tall(np.asarray(w, dtype="float64"))
    return np.abs(m.T @ m - np.eye(m.shape[1])).max()


def tangent_step(shape, relative, seed=1):
    """An orthonormal kernel and a tangent displacement of relative size."""
    w = orthonormal_kernel(shape)
    z = np.random.default_rng(seed).normal(size=shape)
    m, zm = tall(w), tall(z)
    zm = zm - m @ (0.5 * (m.T @ zm + zm.T @ m))
    zm *= relative * np.linalg.norm(m) / np.linalg.norm(zm)
    return m, zm


def numpy_rattle(q, m, dt):
    """RATTLE's velocity: `(q - m) / dt` projected onto the tangent space
    at `q`, in float64."""
    u = (q - m) / dt
    return u - q @ (0.5 * (q.T @ u + u.T @ q))


def numpy_shake(m, d, iterations):
    """The reference scheme: SHAKE on the full matrix, fixed iterations."""
    p = m + d
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            p = p - 0.5 * m @ (p.T @ p - np.eye(m.shape[1]))
    return p


@pytest.mark.parametrize("shape", SHAPES)
def test_projection_is_the_polar_factor(shape):
    w = np.random.default_rng(3).normal(size=shape).astype("float32")
    p = to_numpy(Orthogonal()(w))
    assert p.shape == shape and p.dtype == np.float32
    np.testing.assert_allclose(p, numpy_polar(w), atol=2e-6)
    # Columns orthonormal when tall or square, rows when wide.
    m = matrix_view(p).astype("float64")
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=1e-6)


def test_projection_of_a_rank_deficient_kernel_is_orthonormal():
    w = np.ones((6, 3), "float32")
    assert numpy_violation(to_numpy(Orthogonal()(w))) <= 1e-6


@pytest.mark.parametrize("shape", SHAPES)
def test_violation_is_the_gram_residual(shape):
    w = np.random.default_rng(4).normal(size=shape).astype("float32")
    assert float(Orthogonal().violation(w)) == pytest.approx(
        numpy_violation(w), rel=1e-5)
    assert float(Orthogonal().violation(orthonormal_kernel(shape))) <= 1e-6


def test_wide_kernel_is_the_transposed_tall_problem():
    c = Orthogonal()
    w, z = tangent_step((10, 4), 0.1)
    tall_q, tall_v = c.move(w.astype("float32"), z.astype("float32"), 1.0)
    wide_q, wide_v = c.move(w.T.astype("float32"), z.T.astype("float32"), 1.0)
    np.testing.assert_allclose(to_numpy(wide_q).T, to_numpy(tall_q),
                               atol=1e-6)
    np.testing.assert_allclose(to_numpy(wide_v).T, to_numpy(tall_v),
                               atol=1e-6)
    np.testing.assert_allclose(to_numpy(c(w.T)).T, to_numpy(c(w)), atol=1e-6)


@pytest.mark.parametrize("relative", [1e-3, 1e-2, 0.1, 0.3])
def test_moderate_step_is_the_converged_shake_landing(relative):
    m, d = tangent_step((64, 24), relative)
    dt = 0.5
    q, v = Orthogonal().move(m.astype("float32"), (d / dt).astype("float32"),
                             dt)
    q = to_numpy(q).astype("float64")
    # Lands on the set, along the normal at the OLD point (q - m - d = m L
    # with L symmetric), i.e. exactly where SHAKE converges.
    assert numpy_violation(q) <= 1e-6
    np.testing.assert_allclose(q, numpy_shake(m, d, 200), atol=2e-6)
    lam = m.T @ (q - m - d)
    np.testing.assert_allclose(lam, lam.T, atol=2e-6)
    # RATTLE velocity: (q - m) / dt made tangent at q (computed from the
    # multiplier, not by projecting: compare with the projection, up to
    # the float32 rounding of q, divided by dt).
    v = to_numpy(v).astype("float64")
    np.testing.assert_allclose(q.T @ v + v.T @ q, 0.0, atol=1e-5)
    reference = numpy_rattle(q, m, dt)
    np.testing.assert_allclose(v, reference, atol=1e-7 / dt + 1e-5 * np.abs(
        reference).max())


def test_the_guard_catches_steps_that_make_shake_diverge():
    m, d = tangent_step((24, 8), 2.0)
    reference = numpy_shake(m, d, 10)
    assert not np.isfinite(reference).all() or numpy_violation(reference) > 1
    q, v = Orthogonal().move(m.astype("float32"), d.astype("float32"), 1.0)
    q = to_numpy(q).astype("float64")
    assert np.isfinite(q).all() and np.isfinite(to_numpy(v)).all()
    assert numpy_violation(q) <= 1e-6
    # The fallback is the polar projection of the unconstrained step.
    np.testing.assert_allclose(q, numpy_polar(m + d), atol=2e-6)
    reference = numpy_rattle(q, m, 1.0)
    np.testing.assert_allclose(to_numpy(v), reference,
                               atol=1e-5 * np.abs(reference).max())


def test_iteration_cap_falls_back_to_the_polar_projection():
    m, d = tangent_step((24, 8), 0.3)
    q, _ = Orthogonal(max_iterations=1).move(m.astype("float32"),
                                             d.astype("float32"), 1.0)
    np.testing.assert_allclose(to_numpy(q), numpy_polar(m + d), atol=2e-6)


def test_float64_kernels_land_to_a_tighter_tolerance():
    if keras.config.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX computes in float32 unless x64 is enabled")
    m, d = tangent_step((40, 12), 0.1)
    q, _ = Orthogonal().move(ops.convert_to_tensor(m, "float64"),
                             ops.convert_to_tensor(d, "float64"), 1.0)
    assert numpy_violation(to_numpy(q)) <= 1e-12


def test_half_precision_kernels_are_solved_in_float32():
    w = np.random.default_rng(5).normal(size=(16, 8))
    p = Orthogonal()(ops.convert_to_tensor(w, "float16"))
    assert keras.backend.standardize_dtype(p.dtype) == "float16"
    assert numpy_violation(to_numpy(p)) <= 2e-3


def test_keras_orthogonal_initializer_gives_a_feasible_start():
    for shape in SHAPES:
        w = keras.initializers.Orthogonal(seed=0)(shape)
        assert float(Orthogonal().violation(w)) <= 1e-6, shape


@pytest.mark.parametrize("shape", [(5,), ()])
def test_rejects_variables_of_rank_below_two(shape):
    with pytest.raises(ValueError, match=r"rank >= 2.*shape"):
        Orthogonal()(ops.ones(shape))


@pytest.mark.parametrize(
    "kwargs, name",
    [({"tolerance": 0.0}, "tolerance"), ({"tolerance": -1e-6}, "tolerance"),
     ({"tolerance": "tight"}, "tolerance"),
     ({"max_iterations": 0}, "max_iterations"),
     ({"max_iterations": 2.5}, "max_iterations"),
     ({"max_iterations": True}, "max_iterations")])
def test_rejects_bad_arguments(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=f"`{name}`.*{name}="):
        Orthogonal(**kwargs)


@pytest.mark.parametrize("distance", [1e-4, 1e-2, 0.3, 3.0])
def test_projection_near_and_far_from_the_set_is_the_polar_factor(distance):
    # Near the set the Newton-Schulz branch runs, far from it the SVD.
    rng = np.random.default_rng(6)
    w = orthonormal_kernel((40, 16)) + distance * rng.normal(size=(40, 16)) / 6
    p = to_numpy(Orthogonal()(w.astype("float32")))
    np.testing.assert_allclose(p, numpy_polar(w), atol=2e-6)
    assert numpy_violation(p) <= 1e-6


def test_compiled_steps_on_a_large_kernel():
    # XLA's CPU compiler once crashed on this size (an identity fused with
    # a transpose); the geometry avoids that pattern.
    c = Orthogonal()
    m, d = tangent_step((1000, 1000), 1e-2)
    step = compiled(lambda w, v: c.move(w, v, 1.0)[0])
    q = step(m.astype("float32"), d.astype("float32"))
    assert float(c.violation(q)) <= 1e-6
    assert float(c.violation(compiled(c)(q + 1e-3))) <= 1e-6


def test_projection_fixes_every_singular_value_not_only_the_gram_entries():
    # A kernel whose W^T W - I has tiny entries but a large spectral norm
    # (one direction stretched by 1e-3, spread over many entries).
    rng = np.random.default_rng(7)
    w = orthonormal_kernel((600, 300))
    u = rng.normal(size=(300,))
    u /= np.linalg.norm(u)
    w = w @ (np.eye(300) + 1e-3 * np.outer(u, u))
    p = to_numpy(Orthogonal()(w.astype("float32"))).astype("float64")
    singular_values = np.linalg.svd(p, compute_uv=False)
    np.testing.assert_allclose(singular_values, 1.0, atol=1e-6)


def test_a_nan_svd_falls_back_to_the_gram_eigendecomposition(monkeypatch):
    # JAX's CPU SVD has returned NaN for well-conditioned float32 inputs;
    # the projection must still give the polar factor.
    def nan_svd(x, full_matrices=True, compute_uv=True):
        u, s, vh = np.linalg.svd(keras.ops.convert_to_numpy(x),
                                 full_matrices=full_matrices)
        return np.full_like(u, np.nan), s, vh

    monkeypatch.setattr(keras.ops, "svd", nan_svd)
    # Eagerly, so that NumPy can stand in for the SVD (under TensorFlow the
    # projection is otherwise a graph function).
    monkeypatch.setattr(orthogonal_module, "_shared_polar_factor",
                        orthogonal_module.polar_factor)
    w = np.random.default_rng(8).normal(size=(30, 12)).astype("float32")
    p = to_numpy(Orthogonal()(w))  # far from the set: the SVD branch
    np.testing.assert_allclose(p, numpy_polar(w), atol=2e-6)
    assert numpy_violation(p) <= 1e-6
