"""The geometry every constraint of this package carries.

A constraint is a Keras `Constraint` (its `__call__` is the exact projection
onto the set, so it already works with every stock optimizer as projected
SGD) that also knows the manifold its set is: tangent projection, a
constrained position step, and a measure of violation. Constraint-aware
optimizers read the constraint of each variable once, in `build()`, and
integrate constrained dynamics with these methods, so a new constraint works
with every such optimizer without special cases.

Coordinates: the dynamics run on a point `q` of the manifold. For most
constraints `q` is the weight tensor itself. A constraint whose manifold is
better held in other coordinates (`MagnitudeBound`: the arc length on each
weight's circle) sets `weights_are_coordinates = False`; the optimizer then
holds `q` as ordinary optimizer state, made by `lift` from the weights, and
writes `lower(q)` back into the variable; at each step `relift` lifts again
the weights that something else has changed since.
"""

import math

import keras
from keras import ops


class ManifoldConstraint(keras.constraints.Constraint):
    """Base class: a Keras constraint that also knows its manifold.

    Subclasses implement `__call__` (the nearest point of the weight set),
    `violation`, `tangent` and `move`, may override `transport`, and
    override `lift`, `lower`, `lift_gradient` and `relift` only when their
    manifold is held in coordinates other than the weights.
    """

    # False when the manifold is held in coordinates other than the weights:
    # then `lift`, `lower` and `lift_gradient` are overridden (checked when
    # a subclass is defined).
    weights_are_coordinates = True
    # True when `move` is the exact geodesic flow: then moving with velocity
    # `c * v` for time `t` is moving with `v` for time `c * t` (and ending
    # with `c` times the velocity), which integrators may use to merge steps.
    exact_flow = False
    # True when the tangent projection acts on each coordinate alone (a
    # diagonal metric): a vector scaled coordinate by coordinate stays
    # tangent, so a diagonal preconditioner keeps a step on the set and
    # the noise of the set's measure (`PreconditionedLangevin`).
    elementwise = False
    # True when the geometry's steps iterate to a tolerance (data-dependent
    # loops, e.g. `Orthogonal`'s SHAKE): such a step cannot be compiled
    # into one fused loop where the backend compiles only closed forms.
    iterative = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        changed = [name for name in _COORDINATE_METHODS
                   if getattr(cls, name) is not getattr(ManifoldConstraint,
                                                        name)]
        if cls.weights_are_coordinates and changed:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(changed)} but keeps "
                "weights_are_coordinates = True: set it to False, or the "
                "optimizers treat the weights as the coordinates.")
        if not cls.weights_are_coordinates and len(changed) < len(
                _COORDINATE_METHODS):
            missing = [name for name in _COORDINATE_METHODS
                       if name not in changed]
            raise TypeError(
                f"{cls.__name__} sets weights_are_coordinates = False but "
                f"does not override {', '.join(missing)}.")

    def __call__(self, w):
        """The point of the set nearest to the weights `w`.

        The exact (Euclidean) projection onto the set, of `w`'s shape and
        dtype; weights already on the set come back unchanged up to
        rounding. Keras calls it after every step of a stock optimizer, so
        the weights are always on the set, not merely pulled towards it.
        """
        raise NotImplementedError

    def check_shape(self, shape):
        """Raises `ValueError` if this constraint cannot apply to `shape`."""

    def dimension(self, shape):
        """The manifold's dimension for a variable of `shape`: the number
        of independent directions of its tangent spaces (the degrees of
        freedom a thermostat counts). All coordinates by default."""
        return math.prod(shape)

    def violation(self, w):
        """How far the weights `w` are from the set (0 on it), a scalar.

        The largest absolute residual of the set's defining equations (or
        excess over its inequalities), scaled to be dimensionless where the
        set has a scale (e.g. `max |W^T W - I|` for orthonormal columns), so
        one tolerance serves every size and radius.
        """
        raise NotImplementedError

    def lift(self, w):
        """A point `q` on the manifold for the weights `w` (projects them)."""
        return self(w)

    def lower(self, q):
        """The weights that the manifold point `q` stands for."""
        return q

    def lift_gradient(self, q, g):
        """The weight gradient `g` as a gradient in coordinates at `q`."""
        return g

    def relift(self, q, w):
        """Coordinates for the weights `w`, given the coordinates `q` of the
        weights last written by the optimizer.

        `q` where it still stands for `w`, `lift(w)` where the weights were
        changed since (assigned, loaded, pruned by the user): the optimizer
        calls it at every step, so it holds no state that a change of the
        weights would leave stale.
        """
        return w

    def tangent(self, q, v):
        """The orthogonal projection of `v` onto the tangent space at `q`."""
        raise NotImplementedError

    def transport(self, q, q_new, v):
        """The vector `v`, tangent at `q`, carried to a vector tangent at
        `q_new` (a vector transport, for optimizers' moments).

        By default its orthogonal projection onto the tangent space at
        `q_new`, a vector transport for every set embedded in the weight
        space (Absil, Mahony, Sepulchre, 2008, section 8.1.3).
        """
        return self.tangent(q_new, v)

    def move(self, q, v, dt):
        """The constrained position step ("A" step) of the integrators.

        Starts at `q` with velocity `v` (tangent at `q`), moves for time
        `dt`, lands on the manifold, and returns `(q_new, v_new)` with
        `v_new` tangent at `q_new`. Overdamped schemes pass a displacement as
        `v` with `dt=1` and ignore `v_new`.
        """
        raise NotImplementedError


_COORDINATE_METHODS = ("lift", "lower", "lift_gradient", "relift")


def project_onto_sets(variables):
    """Assigns every variable that has a constraint its projection.

    What Keras does after each optimizer step, for the places where it does
    not (the moving averages that `finalize_variable_values` writes).
    """
    for variable in variables:
        if variable.constraint is not None:
            variable.assign(variable.constraint(variable))


def as_float_tensor(w):
    """`w` as a tensor, keeping its floating dtype (Keras variables too)."""
    w = ops.convert_to_tensor(w)
    if not keras.backend.is_float_dtype(w.dtype):
        w = ops.cast(w, keras.config.floatx())
    return w
