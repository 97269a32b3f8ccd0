import keras
import numpy as np
import pytest
from helpers import to_numpy
from keras import ops

from keras_constrained.constraints import MagnitudeBound


def test_projection_is_the_box_clip_and_violation_its_excess():
    w = np.array([[-0.3, 0.05], [0.2, -0.1]], "float32")
    c = MagnitudeBound(0.1)
    np.testing.assert_allclose(to_numpy(c(w)), np.clip(w, -0.1, 0.1))
    assert float(c.violation(w)) == pytest.approx(2.0)
    assert float(c.violation(c(w))) == 0.0


def test_lift_gives_arc_lengths_on_the_upper_half_circle():
    w = np.random.default_rng(0).uniform(-0.2, 0.2, (5, 3)).astype("float32")
    c, r = MagnitudeBound(0.1), 0.1
    s = to_numpy(c.lift(w))
    assert s.shape == w.shape
    # xi = r cos(s / r) >= 0, and lowering gives back the clipped weights.
    assert (np.abs(s) <= np.pi / 2 * r + 1e-7).all()
    np.testing.assert_allclose(to_numpy(c.lower(s)), np.clip(w, -r, r),
                               atol=1e-7)


def circle_point(c, s):
    s = to_numpy(s).astype("float64")
    return c.radius * np.sin(s / c.radius), c.radius * np.cos(s / c.radius)


def test_move_is_the_exact_rotation_of_the_paper():
    rng = np.random.default_rng(1)
    r, dt = 0.05, 0.3
    c = MagnitudeBound(r)
    s = c.lift(rng.uniform(-r, r, (4, 6)).astype("float32"))
    v = ops.convert_to_tensor(rng.normal(size=(4, 6)) * 0.1, "float32")
    w, xi = circle_point(c, s)
    # The tangent velocity (p_w, p_xi) = v (xi, -w) / r of the (w, xi) form.
    p_w, p_xi = to_numpy(v) * xi / r, -to_numpy(v) * w / r
    # Leimkuhler et al.: omega = (xi p_w - w p_xi) / r^2, phi = omega dt.
    phi = (xi * p_w - w * p_xi) / r**2 * dt
    w_new = w * np.cos(phi) + xi * np.sin(phi)
    xi_new = xi * np.cos(phi) - w * np.sin(phi)
    s_new, v_new = c.move(s, v, dt)
    got_w, got_xi = circle_point(c, s_new)
    np.testing.assert_allclose(got_w, w_new, atol=1e-7)
    np.testing.assert_allclose(got_xi, xi_new, atol=1e-7)
    np.testing.assert_allclose(to_numpy(v_new), to_numpy(v))


def test_the_force_is_the_tangential_component_of_the_gradient():
    rng = np.random.default_rng(2)
    c, r = MagnitudeBound(0.3), 0.3
    s = c.lift(rng.uniform(-r, r, (7,)).astype("float32"))
    g = rng.normal(size=(7,)).astype("float32")
    w, xi = circle_point(c, s)
    g = ops.convert_to_tensor(g)
    # (g, 0) projected onto the unit tangent (xi, -w) / r of the circle.
    np.testing.assert_allclose(to_numpy(c.lift_gradient(s, g)),
                               to_numpy(g) * xi / r,
                               rtol=1e-5, atol=1e-7)


def test_weights_stay_in_the_box_through_many_turns():
    rng = np.random.default_rng(3)
    c = MagnitudeBound(0.1)
    s = c.lift(rng.uniform(-0.1, 0.1, (50,)).astype("float32"))
    for _ in range(200):
        v = ops.convert_to_tensor(rng.normal(size=(50,)) * 10.0, "float32")
        s, _ = c.move(s, v, 0.5)
    # Arc lengths stay within one turn; weights within the box exactly.
    assert np.abs(to_numpy(s)).max() <= np.pi * 0.1 * (1 + 1e-6)
    assert float(c.violation(c.lower(s))) == 0.0


def test_initializers_inside_and_outside_the_bound():
    # PyTorch's default Dense init (uniform in +-1/sqrt(fan_in)) starts
    # inside r = 0.05 for a 784-input layer; glorot_uniform does not.
    c = MagnitudeBound(0.05)
    torch_like = keras.initializers.VarianceScaling(1 / 3, "fan_in",
                                                    "uniform", seed=0)
    assert float(c.violation(torch_like((784, 1000)))) == 0.0
    glorot = keras.initializers.GlorotUniform(seed=0)((784, 1000))
    assert float(c.violation(glorot)) > 0.0


@pytest.mark.parametrize("radius", [0, -0.1, None, float("nan")])
def test_rejects_a_bad_radius(radius):
    with pytest.raises((TypeError, ValueError), match="`radius`.*radius="):
        MagnitudeBound(radius)
