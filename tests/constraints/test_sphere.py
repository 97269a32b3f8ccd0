import numpy as np
import pytest
from helpers import matrix_view
from helpers import to_numpy
from keras import ops

from keras_constrained.constraints import Sphere


def unit_norms(w):
    w = np.asarray(w, "float64")
    return np.linalg.norm(matrix_view(w) if w.ndim > 1 else w[:, None],
                          axis=0)


@pytest.mark.parametrize("shape", [(6, 4), (3, 3, 2, 5), (7,)])
def test_projection_rescales_each_unit_to_the_radius(shape):
    w = np.random.default_rng(0).normal(size=shape).astype("float32")
    p = to_numpy(Sphere(2.5)(w))
    np.testing.assert_allclose(unit_norms(p), 2.5, rtol=1e-6)
    # Same direction: p = w * (r / |w|) unit by unit.
    m, pm = (matrix_view(w), matrix_view(p)) if w.ndim > 1 else (w, p)
    np.testing.assert_allclose(pm, m * 2.5 / unit_norms(w), rtol=1e-5)


def test_a_zero_unit_goes_to_the_first_basis_vector():
    w = np.zeros((3, 2), "float32")
    w[:, 1] = [3.0, 0.0, 4.0]
    p = to_numpy(Sphere(2.0)(w))
    np.testing.assert_allclose(p[:, 0], [2.0, 0.0, 0.0])
    np.testing.assert_allclose(p[:, 1], [1.2, 0.0, 1.6], rtol=1e-6)


def test_violation_is_the_largest_relative_squared_norm_error():
    w = np.array([[3.0, 0.0], [4.0, 1.0]], "float32")  # norms 5 and 1
    assert float(Sphere(1.0).violation(w)) == pytest.approx(24.0)
    assert float(Sphere(5.0).violation(w)) == pytest.approx(0.96)


def test_move_is_the_exact_great_circle_flow():
    rng = np.random.default_rng(1)
    c, r = Sphere(1.5), 1.5
    q = c(rng.normal(size=(8, 3)).astype("float32"))
    v = c.tangent(q, rng.normal(size=(8, 3)).astype("float32"))
    q1, v1 = c.move(q, v, 0.4)
    # Speed is conserved and the angle swept is speed * dt / r per unit.
    speed = unit_norms(v)
    np.testing.assert_allclose(unit_norms(v1), speed, rtol=1e-5)
    cos = np.sum(to_numpy(q) * to_numpy(q1), axis=0) / r**2
    np.testing.assert_allclose(cos, np.cos(speed * 0.4 / r), atol=1e-6)
    # A flow: two steps equal one step of the summed time.
    q2, v2 = c.move(q1, v1, 0.7)
    q3, v3 = c.move(q, v, 1.1)
    np.testing.assert_allclose(to_numpy(q2), to_numpy(q3), atol=2e-6)
    np.testing.assert_allclose(to_numpy(v2), to_numpy(v3), atol=2e-6)


def test_move_uses_only_the_tangent_part_of_a_displacement():
    rng = np.random.default_rng(2)
    c = Sphere(1.0)
    q = c(rng.normal(size=(5, 2)).astype("float32"))
    d = rng.normal(size=(5, 2)).astype("float32")
    np.testing.assert_allclose(to_numpy(c.move(q, d, 0.1)[0]),
                               to_numpy(c.move(q, c.tangent(q, d), 0.1)[0]),
                               atol=1e-6)


@pytest.mark.parametrize("radius", [0, -1.0, float("inf"), float("nan"), "a"])
def test_rejects_a_bad_radius(radius):
    with pytest.raises((TypeError, ValueError), match="`radius`.*radius="):
        Sphere(radius)


def test_rejects_a_scalar_variable():
    with pytest.raises(ValueError, match="rank >= 1"):
        Sphere()(ops.ones(()))
