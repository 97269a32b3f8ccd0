"""What the constrained Langevin optimizers share: reading each variable's
geometry in `build()`, holding manifold coordinates, drawing noise, and
guarding against non-finite gradients. The integrators themselves live in
`overdamped_langevin.py` and `underdamped_langevin.py`."""

import functools
import json

import keras
from keras import ops

from keras_constrained._ops import cond
from keras_constrained._ops import fused_update
from keras_constrained._validation import check_integer
from keras_constrained._validation import check_learning_rate
from keras_constrained._validation import check_non_negative
from keras_constrained.constraints.base import ManifoldConstraint
from keras_constrained.constraints.base import project_onto_sets


class Euclidean(ManifoldConstraint):
    """The geometry of an unconstrained variable: flat space."""

    exact_flow = True

    def __call__(self, w):
        return w

    def violation(self, w):
        return ops.convert_to_tensor(0.0)

    def tangent(self, q, v):
        return v

    def move(self, q, v, dt):
        return q + dt * v, v


def _geometry_key(constraint):
    """Equal for constraints that act alike: their class and config."""
    return (type(constraint),
            json.dumps(constraint.get_config(), sort_keys=True))


class ConstrainedLangevin(keras.optimizers.Optimizer):
    """Base class of the Langevin optimizers (not for direct use).

    In `build()` each variable's constraint is read once: a
    `ManifoldConstraint` gives the geometry the integrator follows (any
    other constraint, or none, gives flat space; Keras then applies a non-
    manifold constraint after each step as usual). Constrained variables are
    excluded from decoupled `weight_decay` and, when their manifold is held
    in other coordinates than the weights (the arc lengths of
    `MagnitudeBound`'s circles), those are an optimizer variable, lifted
    from the weights at the first step. A variable that starts off its set
    lands on it with the first step (every `move` lands from anywhere near
    the set, and `Orthogonal`'s falls back to the polar projection from
    farther). Keras' own after-step projection is skipped for variables the
    integrator keeps on their set: it would only repeat the landing (at the
    cost of an SVD for `Orthogonal`).

    Subclasses implement `integrate(geometry, q, state, gradient, h,
    noise)`, where `q` is the point in manifold coordinates, `state` the
    list of the variable's slots' values (`slot_names`), `gradient` the
    loss gradient in coordinates, `h` the step size and `noise` a standard
    Gaussian of `q`'s shape (None at temperature 0, where no noise is drawn); it
    returns `(q_new, new_state)` without touching any variable.
    """

    slot_names = ()

    def __init__(self, learning_rate, temperature=0.0, seed=None, **kwargs):
        super().__init__(learning_rate=check_learning_rate(learning_rate),
                         **kwargs)
        # Indices, not variables: a list attribute of an optimizer is
        # tracked, and model variables must not become optimizer variables.
        self._on_manifold = []
        self.temperature = check_non_negative("temperature", temperature)
        self.seed = check_integer("seed", seed, optional=True)
        self._seed_generator = keras.random.SeedGenerator(self.seed)
        # Tracked as an optimizer variable, so the noise advances under
        # JAX's jit and is saved with the optimizer.
        self._seed_state = self._seed_generator.state

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._geometries = []
        self._coordinates = []
        self._slots = []
        self._steps = []
        steps = {}
        # Indices, not variables: a list attribute of an optimizer is
        # tracked, and model variables must not become optimizer variables.
        for index, variable in enumerate(variables):
            constraint = variable.constraint
            if isinstance(constraint, ManifoldConstraint):
                constraint.check_shape(variable.shape)
                self._on_manifold.append(index)
            else:
                constraint = Euclidean()
            self._geometries.append(constraint)
            # One step function per geometry: TensorFlow compiles a function
            # once per input shape, so the 20 equal kernels of a deep MLP
            # share one XLA compilation (a first step of 600 s went to 10 s).
            key = _geometry_key(constraint)
            if key not in steps:
                steps[key] = fused_update(functools.partial(
                    self._guarded_step, constraint),
                    iterative=constraint.iterative)
            self._steps.append(steps[key])
            coordinates = None
            if not constraint.weights_are_coordinates:
                coordinates = self.add_variable_from_reference(
                    variable, name="coordinates")
            self._coordinates.append(coordinates)
            self._slots.append([
                self.add_variable_from_reference(variable, name=name)
                for name in self.slot_names])

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
            geometry = self._geometries[index]
            targets = [self._trainable_variables[index]]
            if self._coordinates[index] is not None:
                targets.append(self._coordinates[index])
            kept = [ops.convert_to_tensor(t) for t in targets]

            def landed(geometry=geometry, w=kept[0], lift=len(targets) > 1):
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

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        geometry = self._geometries[index]
        coordinates = self._coordinates[index]
        slots = self._slots[index]
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        value = ops.convert_to_tensor(variable)
        q = value
        if coordinates is not None:
            # Lifted from the weights at the first step rather than in
            # `build()`, which TensorFlow may run inside an XLA-compiled
            # step, where a variable cannot be initialized from another.
            q = cond(self.iterations == 0,
                     lambda: geometry.lift(value),
                     lambda: ops.convert_to_tensor(coordinates))
        state = [ops.convert_to_tensor(slot) for slot in slots]
        # Drawn outside the step below, which must not touch variables (the
        # seed state is one) under JAX.
        noise = None
        if self.temperature > 0:
            noise = keras.random.normal(ops.shape(q), dtype=dtype,
                                        seed=self._seed_generator)

        self._steps[index](
            self, [coordinates, variable, *slots],
            q, value, state, gradient, ops.cast(learning_rate, dtype), noise)

    def _guarded_step(self, geometry, q, value, state, gradient, h, noise):
        """A variable's new coordinates, weights and slots after one step:
        `integrate`, unless its gradient is not finite; then the variable
        and its state stay as they were. One branch (rather than a select
        per output) lets XLA fuse the step as if there were no guard."""
        def step():
            q_new, new_state = self.integrate(
                geometry, q, state, geometry.lift_gradient(q, gradient), h,
                noise)
            return [q_new, geometry.lower(q_new), *new_state]

        finite = ops.isfinite(ops.sum(gradient))  # inf, NaN propagate
        return cond(finite, step, lambda: [q, value, *state])

    def integrate(self, geometry, q, state, gradient, h, noise):
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        config.update({"temperature": self.temperature, "seed": self.seed})
        return config
