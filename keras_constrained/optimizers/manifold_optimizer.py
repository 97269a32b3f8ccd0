"""The base of optimizers that follow the geometry a constraint carries.

A `ManifoldOptimizer` reads each variable's constraint once, in `build()`:
a `ManifoldConstraint` gives the geometry its steps follow; any other
constraint, or none, gives flat space (`Euclidean`). It holds manifold
coordinates where they differ from the weights, skips Keras' after-step
projection for the variables it keeps on their sets, guards against
non-finite gradients, and runs each variable's step as one fused function.
A subclass declares its per-variable slots and writes one `integrate`.
"""

import dataclasses
import functools
import json

import keras
from keras import ops

from keras_constrained._backend.control_flow import cond
from keras_constrained._backend.fused_update import fused_update
from keras_constrained._validation import check_learning_rate
from keras_constrained.constraints.base import ManifoldConstraint
from keras_constrained.constraints.base import project_onto_sets
from keras_constrained.constraints.euclidean import Euclidean
from keras_constrained.optimizers._docs import fill_keyword_args


@dataclasses.dataclass(frozen=True)
class VariableState:
    """What a manifold optimizer holds for one variable.

    Attributes:
        geometry: the variable's `ManifoldConstraint` (`Euclidean` where it
            has none).
        coordinates: the optimizer variable holding the manifold point
            `q`, or `None` where the weights are `q`.
        slots: slot name -> optimizer variable (`slot_names`' order).
        step: the fused step, shared by variables of equal geometries.
    """

    geometry: ManifoldConstraint
    coordinates: object
    slots: dict
    step: object


def _geometry_key(constraint):
    """Equal for constraints that act alike: their class and config."""
    return (type(constraint),
            json.dumps(constraint.get_config(), sort_keys=True))


class ManifoldOptimizer(keras.optimizers.Optimizer):
    """Base class of the constraint-aware optimizers (not for direct use).

    Constrained variables are excluded from decoupled `weight_decay` and,
    when their manifold is held in other coordinates than the weights (the
    arc lengths of `MagnitudeBound`'s circles), those are an optimizer
    variable, lifted from the weights at the first step and again wherever
    the weights were changed outside the optimizer (assigned, loaded). A variable that
    starts off its set lands on it with the first step (every `move` lands
    from anywhere near the set, and `Orthogonal`'s falls back to the polar
    projection from farther). Keras' own after-step projection is skipped
    for variables the steps keep on their set: it would only repeat the
    landing (at the cost of an SVD for `Orthogonal`).

    Subclasses set `slot_names` (one optimizer variable per name and
    variable, shaped like it unless `slot_shape` says otherwise, starting
    at zero) and implement `integrate(geometry, q, slots,
    gradient, learning_rate, **inputs)`: `q` is the point in manifold
    coordinates, `slots` a dict of the slots' values, `gradient` the loss
    gradient in coordinates, `inputs` what `step_inputs` drew; it returns
    `(q_new, new_slots)` (a dict with the same names) without touching any
    variable.

    The example below is Riemannian gradient descent with heavy-ball
    momentum, projected onto the tangent space at each new point.

    Example:

    ```python
    class RiemannianMomentum(keras_constrained.optimizers.ManifoldOptimizer):
        slot_names = ("velocity",)

        def integrate(self, geometry, q, slots, gradient, learning_rate):
            v = geometry.tangent(q, 0.9 * slots["velocity"] - gradient)
            q_new, v_new = geometry.move(q, v, learning_rate)
            return q_new, {"velocity": geometry.tangent(q_new, v_new)}

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        3, kernel_constraint=keras_constrained.constraints.Sphere())])
    model.compile(optimizer=RiemannianMomentum(0.1), loss="mse")
    model.fit(numpy.ones((8, 4)), numpy.zeros((8, 3)), verbose=0)
    ```

    Args:
        learning_rate: a finite float > 0, a schedule or a callable: the
            `learning_rate` that `integrate` gets at every step.
        {{base_optimizer_keyword_args}}
            `weight_decay` skips the variables with a manifold constraint;
            `name` is one of these arguments too.
    """

    slot_names = ()

    def __init__(self, learning_rate, **kwargs):
        super().__init__(learning_rate=check_learning_rate(learning_rate),
                         **kwargs)
        # Indices, not variables: a list attribute of an optimizer is
        # tracked, and model variables must not become optimizer variables.
        self._on_manifold = []

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._states = []
        steps = {}
        for index, variable in enumerate(variables):
            constraint = variable.constraint
            if isinstance(constraint, ManifoldConstraint):
                constraint.check_shape(variable.shape)
                self._on_manifold.append(index)
            else:
                constraint = Euclidean()
            # One step function per geometry: TensorFlow compiles a function
            # once per input shape, so the 20 equal kernels of a deep MLP
            # share one XLA compilation (benchmarks/README.md, first_step.py);
            # iterative steps are not XLA-compiled, and their loops are
            # functions traced once per shape (`traced_once_per_shape`).
            key = _geometry_key(constraint)
            if key not in steps:
                steps[key] = fused_update(functools.partial(
                    self._guarded_step, constraint),
                    iterative=constraint.iterative)
            coordinates = None
            if not constraint.weights_are_coordinates:
                coordinates = self.add_variable_from_reference(
                    variable, name="coordinates")
            slots = {name: self._add_slot(variable, name)
                     for name in self.slot_names}
            self._states.append(VariableState(constraint, coordinates, slots,
                                              steps[key]))

    def slot_shape(self, name, variable):
        """The shape of the slot `name` of `variable`: the variable's own,
        unless a subclass holds less (a scalar per variable, say)."""
        return variable.shape

    def _add_slot(self, variable, name):
        shape = tuple(self.slot_shape(name, variable))
        if shape == tuple(variable.shape):
            return self.add_variable_from_reference(variable, name=name)
        return self.add_variable(
            shape, initializer="zeros", dtype=variable.dtype,
            name=f"{variable.path.replace('/', '_')}_{name}")

    def variable_state(self, variable):
        """The `VariableState` (geometry, coordinates, slots) held for the
        model variable `variable`, once built."""
        return self._states[self._get_variable_index(variable)]

    def _manifold_variables(self):
        return [self._trainable_variables[i] for i in self._on_manifold]

    def _use_weight_decay(self, variable):
        if self._get_variable_index(variable) in self._on_manifold:
            return False
        return super()._use_weight_decay(variable)

    def apply(self, grads, trainable_variables=None):
        # Keras' own test for overwriting the weights with their moving
        # averages in this step, read before the step counts itself.
        overwrite = None
        if self.use_ema and self.ema_overwrite_frequency:
            overwrite = (
                self.iterations + 1) % self.ema_overwrite_frequency == 0
        # Keras projects every variable with a constraint after the step
        # and offers no way to skip it; the steps here already land on the
        # sets, so the constraints are set aside for the step.
        # This is the one place that touches the model's variables so.
        variables = self._manifold_variables()
        constraints = [v.constraint for v in variables]
        for v in variables:
            v.constraint = None
        try:
            super().apply(grads, trainable_variables)
        finally:
            for v, constraint in zip(variables, constraints):
                v.constraint = constraint
        if overwrite is not None:
            self._land_averages(overwrite)

    def _land_averages(self, overwrite=None):
        """Puts the weights Keras overwrote with their moving averages
        back on their sets, where the scalar boolean `overwrite` holds (or
        always, with `None`).

        The average of points of a curved set (`Orthogonal`, `Sphere`) lies
        off it. Each manifold-constrained variable gets its nearest point of
        the set, where Keras' after-step projection (skipped for these
        variables) would have put it, and its coordinates are lifted from
        that point: the next step starts from the average, as it does for a
        stock optimizer.
        """
        for index in self._on_manifold:
            state = self._states[index]
            targets = [self._trainable_variables[index]]
            if state.coordinates is not None:
                targets.append(state.coordinates)
            kept = [ops.convert_to_tensor(t) for t in targets]

            def landed(geometry=state.geometry, w=kept[0],
                       lift=len(targets) > 1):
                w = geometry(w)
                return [w, geometry.lift(w)] if lift else [w]

            values = landed() if overwrite is None else cond(
                overwrite, landed, lambda kept=kept: kept)
            for target, value in zip(targets, values):
                self.assign(target, value)

    def finalize_variable_values(self, var_list):
        """Overwrites the weights with their moving averages (with
        `use_ema`), each constrained one projected onto its set.

        Keras projects after the overwrites during training, but not after
        this one, which `fit` makes at its end; an average of points of a
        curved set would stay off it.
        """
        super().finalize_variable_values(var_list)
        if self.use_ema:
            manifold = {id(v) for v in self._manifold_variables()}
            project_onto_sets(v for v in var_list if id(v) not in manifold)
            self._land_averages()

    def step_inputs(self, q, dtype):
        """Tensors the step needs beyond the variables, as a dict of
        keyword arguments of `integrate` (none by default). Drawn outside
        the fused step, which must not touch variables (under JAX a seed
        state is one)."""
        return {}

    def update_step(self, gradient, variable, learning_rate):
        state = self.variable_state(variable)
        dtype = variable.dtype
        value = ops.convert_to_tensor(variable)
        q = value
        if state.coordinates is not None:
            # Lifted from the weights in the step (by `relift`: the
            # coordinates start at zero) rather than in `build()`, which
            # TensorFlow may run inside an XLA-compiled step, where a
            # variable cannot be initialized from another.
            q = ops.convert_to_tensor(state.coordinates)
        slots = {name: ops.convert_to_tensor(slot)
                 for name, slot in state.slots.items()}
        targets = {"coordinates": state.coordinates, "weights": variable,
                   "slots": state.slots}
        state.step(self, targets, q, value, slots, ops.cast(gradient, dtype),
                   ops.cast(learning_rate, dtype), self.step_inputs(q, dtype))

    def _guarded_step(self, geometry, q, value, slots, gradient,
                      learning_rate, inputs):
        """A variable's new coordinates, weights and slots after one step:
        `integrate`, unless its gradient is not finite; then the variable
        and its state stay as they were. One branch (rather than a select
        per output) lets XLA fuse the step as if there were no guard."""
        # Weights changed since the last step (assigned, loaded) are lifted
        # again, so the step starts from them (`q` is `value` where the
        # weights are the coordinates).
        q = geometry.relift(q, value)

        def step():
            q_new, new_slots = self.integrate(
                geometry, q, slots, geometry.lift_gradient(q, gradient),
                learning_rate, **inputs)
            return {"coordinates": q_new, "weights": geometry.lower(q_new),
                    "slots": new_slots}

        finite = ops.isfinite(ops.sum(gradient))  # inf, NaN propagate
        return cond(finite, step, lambda: {"coordinates": q, "weights": value,
                                           "slots": slots})

    def integrate(self, geometry, q, slots, gradient, learning_rate,
                  **inputs):
        raise NotImplementedError


fill_keyword_args(ManifoldOptimizer)
