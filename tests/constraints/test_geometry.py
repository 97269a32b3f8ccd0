"""Manifold facts every constraint must satisfy, checked for all of them."""

import keras
import numpy as np
import pytest
from helpers import compiled
from helpers import to_numpy
from keras import ops

from keras_constrained import constraints


def ring(n):
    eye = np.eye(n)
    return eye + np.roll(eye, 1, axis=0) + np.roll(eye, -1, axis=0)


# (constraint, weight shape, scale of the raw weights)
CASES = {
    "orthogonal-dense-tall": (constraints.Orthogonal(), (12, 5), 1.0),
    "orthogonal-dense-wide": (constraints.Orthogonal(), (5, 12), 1.0),
    "orthogonal-dense-square": (constraints.Orthogonal(), (7, 7), 1.0),
    "orthogonal-conv2d": (constraints.Orthogonal(), (3, 3, 2, 8), 1.0),
    "orthogonal-conv2d-wide": (constraints.Orthogonal(), (1, 1, 4, 8), 1.0),
    "sphere-dense": (constraints.Sphere(2.0), (6, 4), 1.0),
    "sphere-conv2d": (constraints.Sphere(0.5), (3, 3, 2, 4), 1.0),
    "sphere-vector": (constraints.Sphere(1.0), (7,), 1.0),
    "magnitude-bound": (constraints.MagnitudeBound(0.1), (6, 4), 0.08),
    "sparsity-mask": (constraints.SparsityMask(ring(6)), (6, 6), 1.0),
    "euclidean": (constraints.Euclidean(), (6, 4), 1.0),
}


@pytest.fixture(params=sorted(CASES))
def case(request):
    constraint, shape, scale = CASES[request.param]
    rng = np.random.default_rng(0)

    def raw(shape=shape):
        return ops.convert_to_tensor(
            (scale * rng.normal(size=shape)).astype("float32"))

    return constraint, shape, raw


def norm(x):
    return float(np.linalg.norm(to_numpy(x)))


def inner(a, b):
    return float(np.sum(to_numpy(a).astype("float64")
                        * to_numpy(b).astype("float64")))


def test_projection_lands_on_the_set_and_is_idempotent(case):
    constraint, _, raw = case
    p = constraint(raw())
    assert float(constraint.violation(p)) <= 1e-6
    np.testing.assert_allclose(to_numpy(constraint(p)), to_numpy(p),
                               atol=2e-6)


def test_lift_lands_on_the_manifold_and_lower_inverts_it(case):
    constraint, shape, raw = case
    w = raw()
    q = constraint.lift(w)
    assert tuple(q.shape) == shape
    assert float(constraint.violation(constraint.lower(q))) <= 1e-6
    np.testing.assert_allclose(to_numpy(constraint.lower(q)),
                               to_numpy(constraint(w)), atol=1e-6)



def test_relift_keeps_the_coordinates_of_unchanged_weights(case):
    """`relift(q, w)`: `q` where the weights are still `lower(q)`, the
    coordinates of new weights where they changed."""
    constraint, shape, raw = case
    q = constraint.move(constraint.lift(raw()), raw(), 1.0)[0]
    w = constraint.lower(q)
    np.testing.assert_allclose(to_numpy(constraint.relift(q, w)),
                               to_numpy(q), atol=1e-6)
    new = constraint(raw())  # other weights, on the set
    relifted = constraint.relift(q, new)
    np.testing.assert_allclose(to_numpy(constraint.lower(relifted)),
                               to_numpy(new), atol=1e-6)
    if constraint.weights_are_coordinates:
        np.testing.assert_array_equal(to_numpy(relifted), to_numpy(new))

def test_tangent_is_an_orthogonal_projection(case):
    constraint, shape, raw = case
    q = constraint.lift(raw())
    a, b = raw(), raw()
    pa, pb = constraint.tangent(q, a), constraint.tangent(q, b)
    # Idempotent, and what it removes is orthogonal to everything it keeps.
    np.testing.assert_allclose(to_numpy(constraint.tangent(q, pa)),
                               to_numpy(pa), atol=1e-6)
    scale = np.sqrt(inner(a, a) * inner(b, b))
    assert abs(inner(pa, ops.subtract(b, pb))) <= 1e-6 * scale
    assert abs(inner(pb, ops.subtract(a, pa))) <= 1e-6 * scale


@pytest.mark.parametrize("relative_step", [1e-3, 0.1])
def test_move_lands_on_the_set_with_a_tangent_velocity(case, relative_step):
    constraint, shape, raw = case
    q = constraint.lift(raw())
    v = constraint.tangent(q, raw())
    dt = 0.5
    v = v * (relative_step * norm(q) / (dt * norm(v)))
    q_new, v_new = constraint.move(q, v, dt)
    assert float(constraint.violation(constraint.lower(q_new))) <= 1e-6
    np.testing.assert_allclose(to_numpy(constraint.tangent(q_new, v_new)),
                               to_numpy(v_new), atol=1e-6)
    # It moved by about dt * |v| (exactly, to first order).
    assert norm(q_new - q) == pytest.approx(dt * norm(v), rel=0.1)


def test_transport_carries_tangent_vectors_to_the_new_tangent_space(case):
    constraint, shape, raw = case
    q = constraint.lift(raw())
    v = constraint.tangent(q, raw())
    q_new, _ = constraint.move(q, 0.1 * norm(q) / norm(v) * v, 1.0)
    carried = constraint.transport(q, q_new, v)
    np.testing.assert_allclose(to_numpy(constraint.tangent(q_new, carried)),
                               to_numpy(carried), atol=1e-6)
    # Linear, the identity where the point stays, and no longer than `v`
    # for a projection (to rounding).
    np.testing.assert_allclose(
        to_numpy(constraint.transport(q, q_new, 2.0 * v - v)),
        to_numpy(carried), atol=1e-6)
    np.testing.assert_allclose(to_numpy(constraint.transport(q, q, v)),
                               to_numpy(v), atol=1e-6)
    assert norm(carried) <= norm(v) * (1 + 1e-6)


def test_move_with_zero_velocity_stays_put(case):
    constraint, shape, raw = case
    q = constraint.lift(raw())
    q_new, v_new = constraint.move(q, ops.zeros_like(q), 0.3)
    np.testing.assert_allclose(to_numpy(q_new), to_numpy(q), atol=1e-6)
    np.testing.assert_allclose(to_numpy(v_new), 0.0, atol=1e-6)


def test_an_exact_flow_trades_speed_for_time(case):
    # What `exact_flow` promises the integrators: a move with velocity
    # c * v for time t is the move with v for time c * t, velocity scaled.
    constraint, shape, raw = case
    if not constraint.exact_flow:
        pytest.skip("move is not an exact flow")
    q = constraint.lift(raw())
    v = constraint.tangent(q, raw())
    v = v * (0.2 * norm(q) / norm(v))
    c = 0.6
    q_half, v_half = constraint.move(q, v, 0.5)
    q_two, v_two = constraint.move(q_half, c * v_half, 0.5)
    q_one, v_one = constraint.move(q, v, 0.5 * (1 + c))
    np.testing.assert_allclose(to_numpy(q_two), to_numpy(q_one), atol=2e-6)
    np.testing.assert_allclose(to_numpy(v_two), c * to_numpy(v_one),
                               atol=2e-6)


def test_geometry_traces_under_the_backend_compiler(case):
    constraint, shape, raw = case
    q = constraint.lift(raw())
    v = 0.05 * constraint.tangent(q, raw())

    def step(q, v):
        q_new, v_new = constraint.move(q, v, 0.5)
        return constraint(constraint.lower(q_new)), v_new

    eager = step(q, v)
    traced = compiled(step)(q, v)
    for e, t in zip(eager, traced):
        np.testing.assert_allclose(to_numpy(t), to_numpy(e), atol=1e-5)


def test_config_round_trips_through_keras_serialization(case):
    constraint, _, _ = case
    config = constraint.get_config()
    clone = type(constraint).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(constraint))
    assert type(restored) is type(constraint)
    assert restored.get_config() == config
    assert constraints.ManifoldConstraint in type(constraint).__mro__


def test_coordinates_other_than_the_weights_must_be_declared():
    with pytest.raises(TypeError, match="weights_are_coordinates = True"):
        class Undeclared(constraints.ManifoldConstraint):
            def lift(self, w):
                return w

    with pytest.raises(TypeError, match="does not override lower"):
        class Incomplete(constraints.ManifoldConstraint):
            weights_are_coordinates = False

            def lift(self, w):
                return w

            def lift_gradient(self, q, g):
                return g

    class Complete(constraints.MagnitudeBound):  # inherits all four
        pass

    assert not Complete.weights_are_coordinates


def test_dimension_is_the_rank_of_the_tangent_projection(case):
    constraint, shape, raw = case
    q = constraint.lift(raw())
    size = int(np.prod(shape))
    basis = np.eye(size, dtype="float32").reshape((size,) + tuple(shape))
    projector = np.stack([
        to_numpy(constraint.tangent(q, ops.convert_to_tensor(e))).ravel()
        for e in basis])
    assert constraint.dimension(shape) == np.linalg.matrix_rank(
        projector, tol=1e-4)
