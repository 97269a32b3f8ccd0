"""Duality structure gradient descent: one greedy layer per step.

`DSGD`'s docstring says what the optimizer does; this is how, and why.

Adaptive smoothness (`DSGD._adaptive_smoothness`). The descent lemma's
guarantee for layer `i` holds wherever `L_i` bounds the curvature of the
loss along that layer's steps. After a step `Delta` the next gradient gives
that curvature, `kappa = <G_new - G_old, Delta> / ||Delta||_i^2`: by the
trapezoid rule the step changed the loss by
`<G_old, Delta> + kappa ||Delta||_i^2 / 2`, so the bound held if and only
if `kappa <= L_i`. A step with `kappa > L_i` multiplies `L_i` by at least
`GROWTH`, any other step by `SHRINK`, and neither leaves it below
`FLOOR * kappa` (the curvature along a layer's next step can be several
times its last one's). A layer's first step, before any measurement, moves
its weights by `FIRST_STEP` of their size in its norm (`weight_size`: the
root-mean-square singular value for the spectral norm; 1 for zero
weights), whatever the scale of the loss or of the weights. At
`learning_rate=1` a step raises the loss only where the curvature along it
exceeds `2 L_i`, and each such step at least doubles `L_i`: on the full
batch the loss cannot diverge (tests/optimizers/test_dsgd.py checks that it
never rises). The cost is a buffer per layer the size of its weights (its
last step) and a dot product per step. A skipped step leaves the pending
measurement of the last step taken, which the next finite step makes as if
the skipped batch had not been there.

Mini-batch bias. With mini-batches `G_new - G_old` also holds the
difference of two batches' gradient noise, and the old batch's noise is
correlated with its own step, so `kappa` is biased upwards, by about
`(1 - rho) L_i / learning_rate`, where `rho = <g, u> / ||G||_*` is how much
of the step direction `u` the full-batch gradient `g` supports. Where noise
dominates (`rho` below 3/4, with `FLOOR` 4) every step raises `L_i` and the
steps shrink geometrically: the loss cannot rise, but training stalls
(a case is in benchmarks/README.md). Hence a fixed `smoothness` for
mini-batches.

Spectral norm (`layer_norms.Spectral`). The dual norm (the nuclear norm)
and the direction (the polar factor) come from the eigendecomposition of
the gradient's small Gram matrix, regularized below the float rounding of
that matrix (`layer_norms.spectral_measure`): the dual norm `d` used is a
lower bound of the nuclear norm, and the direction `u` has `||u||_2 <= 1`
and `<G, u> = d`, so that the descent guarantee holds exactly with `d`.
The choice compares every layer's dual norm; only the chosen layer's
direction is built (`DSGD._move`).

Architecture scale (`DSGD._layer_scales`). `scale="architecture"`
multiplies layer `i`'s norm by `c_i = R_i * prod_{j > i} max(1, ||W_j||_2)`,
the reconstruction of the paper's parameter-dependent norm: the growth of
the gradient's Lipschitz constant with the input size and with the later
layers' weights moves into the norm, so that one `L` can hold everywhere.
`R_i = sqrt(rows of W_i)` is the norm of an input whose entries (and bias
1) are of size 1 (tanh or sigmoid units, standardized data); the later
layers are the later groups in the model's variable order (exact for a
chain of layers); `||W_j||_2` is estimated by warm-started power iteration
(`layer_norms.spectral_norm`). The dual norm is then divided by `c_i` and
the step by `c_i^2`.
"""

import math
import warnings
from typing import NamedTuple

import keras
from keras import ops

from keras_constrained._backend.distribute import sum_over_replicas
from keras_constrained._backend.control_flow import call_on_host_if
from keras_constrained._backend.control_flow import cond
from keras_constrained._backend.ops import maximum
from keras_constrained._validation import check_choice
from keras_constrained._validation import check_learning_rate
from keras_constrained._validation import check_positive
from keras_constrained.constraints.base import project_onto_sets
from keras_constrained.optimizers import layer_norms
from keras_constrained.optimizers._docs import fill_keyword_args

SCALES = ("none", "architecture")


ADAPTIVE = "adaptive"

# The adaptive smoothness estimate (module docstring). A faster `SHRINK` or
# a smaller `FLOOR` let the curvature along a later step outgrow `2 L` on
# small full-batch MLPs, and the loss rose; these kept it falling
# (benchmarks/README.md, "DSGD's constants").
FIRST_STEP = 1e-2
GROWTH = 2.0
SHRINK = 0.97
FLOOR = 4.0


def _check_smoothness(smoothness):
    allowed = (f"{ADAPTIVE!r}, a finite number > 0 or a non-empty list of "
               "them (one per layer)")
    if isinstance(smoothness, (list, tuple)) and smoothness:
        return [check_positive(f"smoothness[{i}]", x)
                for i, x in enumerate(smoothness)]
    if isinstance(smoothness, (str, list, tuple)):
        if smoothness == ADAPTIVE:
            return ADAPTIVE
        raise ValueError(f"`smoothness` must be {allowed}; received "
                         f"smoothness={smoothness!r}.")
    return check_positive("smoothness", smoothness, allowed=allowed)


def _check_groups(groups):
    if groups is None:
        return None
    ok = isinstance(groups, (list, tuple)) and all(
        isinstance(g, (list, tuple)) and g and all(isinstance(p, str)
                                                   for p in g)
        for g in groups)
    paths = [p for g in groups for p in g] if ok else []
    if not ok or len(paths) != len(set(paths)):
        raise ValueError(
            "`groups` must be None or a list of non-empty lists of variable "
            "paths (e.g. [['dense/kernel', 'dense_1/bias']]), each path in "
            f"one group only; received groups={groups!r}."
        )
    return [list(g) for g in groups]


class _Group:
    """A layer's variables seen as one matrix, and back.

    Variables sharing their last axis (a Dense or Conv kernel and its bias)
    are reshaped to `(-1, last axis)` and stacked, so a bias is an extra
    input row of its kernel; otherwise the group is one column vector.
    """

    def __init__(self, name, indices, shapes):
        self.name = name
        self.indices = indices
        self.shapes = [tuple(s) for s in shapes]
        lasts = {s[-1] if s else 1 for s in self.shapes}
        self.columns = lasts.pop() if len(lasts) == 1 else 1
        self.sizes = [math.prod(s) for s in self.shapes]
        self.rows = sum(self.sizes) // self.columns

    # Casts and reshapes only where needed: under torch each `keras.ops`
    # call costs Python time, and these add up to a good part of a step.
    def matrix(self, tensors, dtype):
        parts = []
        for t, shape in zip(tensors, self.shapes):
            if keras.backend.standardize_dtype(t.dtype) != dtype:
                t = ops.cast(t, dtype)
            if len(shape) != 2 or shape[-1] != self.columns:
                t = ops.reshape(t, (-1, self.columns))
            parts.append(t)
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=0)

    def split(self, m):
        parts, start = [], 0
        for size, shape in zip(self.sizes, self.shapes):
            rows = size // self.columns
            part = m[start:start + rows]
            parts.append(part if shape == (rows, self.columns)
                         else ops.reshape(part, shape))
            start += rows
        return parts


class _Choice(NamedTuple):
    """What `DSGD._choose` decides for a step, before anything moves."""

    matrices: list  # each layer's gradient (zeros for a skipped step)
    measures: list  # what each layer's norm keeps to build its direction
    finite: object  # whether the step is taken
    chosen: object  # the layer that moves, -1 for a skipped step
    lengths: object  # each layer's step length in its scaled norm
    scales: object  # each layer's norm scale `c_i`
    smoothness: object  # each layer's `L_i` for this step
    measured: object  # each layer's `L_i` as measured (adaptive, or None)
    power_vectors: list  # the power iteration's next vectors


@keras.saving.register_keras_serializable(package="keras_constrained")
class DSGD(keras.optimizers.Optimizer):
    """Duality structure gradient descent (Flynn, 2017): at every step only
    the layer with the largest guaranteed decrease of the loss moves.

    Each layer `i` carries a norm `||.||_i` (`norm`, optionally scaled,
    `scale`) and a smoothness constant `L_i` (the gradient of the loss in
    layer `i` is `L_i`-Lipschitz in that norm). The descent lemma then
    guarantees that the step

    ```python
    W_i -= learning_rate / L_i * duality_map_i(G_i)   # G_i: layer gradient
    ```

    decreases the loss by at least `s_i / 2` (at `learning_rate=1`), with the
    score `s_i = ||G_i||_{i,*}^2 / L_i`. DSGD computes every layer's
    gradient and score and updates only the layer with the largest score
    (the lowest index on ties): steepest descent in the sum of the layer
    norms weighted by `sqrt(L_i)`. With one layer and the Frobenius norm it
    is gradient descent with step `learning_rate / L`.

    Adaptive or fixed smoothness. By default (`smoothness="adaptive"`)
    DSGD estimates every `L_i` as it trains, from the curvature along the
    layer's last step (derived in the module docstring). On full (or
    large) batches this needs no tuning, and at `learning_rate=1` the loss
    cannot diverge. On small mini-batches the gradient noise biases the
    estimate upwards, the steps shrink and training stalls: pass a fixed
    `smoothness` there, with `learning_rate` of about 0.25 to 0.5 or a
    decaying schedule, since the layer is chosen and moved with the same
    mini-batch gradient and the guarantee holds only in expectation, up to
    the gradient noise.

    Layers: the variables whose paths share everything before the last `/`
    (`"dense_1/kernel"`, `"dense_1/bias"`) form one layer, in the order of
    their first variable, and one matrix `W` (the kernel reshaped to
    `(-1, units)`, the bias an extra row); `groups` lists other groupings
    by path. After `build()`, `layer_names` holds the layers' names, the
    optimizer variable `chosen_layer` the index of the layer the last step
    updated (-1 before the first step and after a skipped step;
    `keras_constrained.callbacks.LayerChoiceLogger` records it at every
    step), and with adaptive smoothness `layer_smoothness` the current
    `L_i` (0 before a layer's first step).

    A step is skipped where a gradient or a dual norm is not finite (a
    batch holding NaN or inf, a diverged loss, a failed
    eigendecomposition): the weights and the optimizer's state stay as they
    were, the adaptive estimate included. Only `chosen_layer` changes, to
    -1, and `iterations` counts the batch, as Keras' own optimizers and the
    Langevin optimizers count every batch (a learning-rate schedule runs on
    it). Keras still applies each variable's constraint after the step: a
    projection of weights already on their set. The first skipped step
    warns (once per optimizer, also inside compiled train steps), except
    under TensorFlow with XLA (`jit_compile=True`, Keras' default for
    TensorFlow on a GPU), which compiles no host callback.

    Args:
        learning_rate: float, schedule or callable: the step multiplier
            `alpha` of the step `alpha / L_i`; 1 is the full step of the
            descent lemma.
        smoothness: `"adaptive"` (estimated while training), or a fixed
            `L`: a positive float, the constant of every layer, or a list
            of one per layer (in the order of `layer_names`). With one
            fixed `L` the choice of layer does not depend on it.
        norm: every layer's norm. `"spectral"`: the largest singular value
            of `W`; the dual norm is the sum of the gradient's singular
            values and the step direction its polar factor `U V^T` (as in
            Muon). Every step needs every layer's nuclear norm, which costs
            much more than an SGD step at small batches (the cost depends
            on the layers' shapes, not on the batch). `"frobenius"`:
            `||W||_F`; the step is the layer's gradient step.
        scale: `"none"`, or `"architecture"`: layer `i`'s norm times
            `c_i = sqrt(rows of W_i) * prod_{j > i} max(1, ||W_j||_2)`, the
            paper's parameter-dependent norm, so that one `L` can hold for
            every layer (module docstring).
        groups: `None` or a list of lists of variable paths, each list one
            layer; variables not listed are grouped by layer.
        name: the optimizer's name.
        {{base_optimizer_keyword_args}}
            DSGD refuses `weight_decay`, since it would move every layer.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(1)])
    optimizer = keras_constrained.optimizers.DSGD(smoothness=2.0)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(numpy.ones((32, 4)), numpy.ones((32, 1)), batch_size=32,
              epochs=3, verbose=0)
    print(optimizer.layer_names, int(optimizer.chosen_layer))
    ```

    References:
        Flynn. The duality structure gradient descent algorithm: analysis
        and applications to neural networks. arXiv:1708.00523 (2017-2020).
    """

    def __init__(self, learning_rate=1.0, smoothness=ADAPTIVE,
                 norm="spectral", scale="none", groups=None, name="dsgd",
                 **kwargs):
        if kwargs.get("weight_decay"):
            raise ValueError(
                "DSGD moves one layer per step; decoupled weight decay would "
                "move them all. Use a kernel_regularizer instead; received "
                f"weight_decay={kwargs['weight_decay']!r}."
            )
        super().__init__(learning_rate=check_learning_rate(learning_rate),
                         name=name, **kwargs)
        self.smoothness = _check_smoothness(smoothness)
        self.norm = check_choice("norm", norm, layer_norms.NORMS)
        self._layer_norm = layer_norms.NORMS[self.norm]
        self.scale = check_choice("scale", scale, SCALES)
        self.groups = _check_groups(groups)
        self._warned_skipped = False

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        explicit = {path: i for i, group in enumerate(self.groups or [])
                    for path in group}
        unknown = set(explicit) - {v.path for v in variables}
        if unknown:
            raise ValueError(
                f"`groups` names paths that are not trainable variables: "
                f"{sorted(unknown)}; the variables are "
                f"{[v.path for v in variables]}."
            )
        members = {}
        for index, variable in enumerate(variables):
            key = (f"group_{explicit[variable.path]}"
                   if variable.path in explicit
                   else variable.path.rpartition("/")[0] or variable.path)
            members.setdefault(key, []).append(index)
        self._groups = [
            _Group(key, indices, [variables[i].shape for i in indices])
            for key, indices in members.items()]
        self.layer_names = [g.name for g in self._groups]
        if (isinstance(self.smoothness, list)
                and len(self.smoothness) != len(self._groups)):
            raise ValueError(
                f"`smoothness` has {len(self.smoothness)} values but the "
                f"model has {len(self._groups)} layers: {self.layer_names}."
            )
        self._compute_dtype = ("float64" if any(
            keras.backend.standardize_dtype(v.dtype) == "float64"
            for v in variables) else "float32")
        self.chosen_layer = self.add_variable(
            (), initializer=keras.initializers.Constant(-1), dtype="int32",
            name="chosen_layer")
        # Power-iteration vectors for `||W_j||_2` of every layer after the
        # first (the first is downstream of none).
        self._power_vectors = [
            self.add_variable((g.columns,), initializer="ones",
                              name=f"power_vector_{i}")
            for i, g in enumerate(self._groups[1:], 1)
        ] if self.scale == "architecture" else []
        if self.smoothness == ADAPTIVE:
            # 0: the layer has not moved yet.
            self.layer_smoothness = self.add_variable(
                (len(self._groups),), initializer="zeros",
                dtype=self._compute_dtype, name="layer_smoothness")
            # Each layer's last step `Delta` (as a layer matrix), and of the
            # last step taken `<G, Delta>` and `||Delta||^2`.
            self._last_steps = [
                self.add_variable((g.rows, g.columns), initializer="zeros",
                                  dtype=self._compute_dtype,
                                  name=f"last_step_{i}")
                for i, g in enumerate(self._groups)]
            self._last_step_stats = self.add_variable(
                (2,), initializer="zeros", dtype=self._compute_dtype,
                name="last_step_stats")
            # The layer of the last step taken (-1 before the first), whose
            # curvature the next step measures: unlike `chosen_layer`, a
            # skipped step keeps it.
            self._last_layer = self.add_variable(
                (), initializer=keras.initializers.Constant(-1),
                dtype="int32", name="last_layer")

    def _layer_scales(self):
        """`c_i` for every layer, and the power vectors' next values."""
        if self.scale == "none":
            return ops.ones((len(self._groups),), self._compute_dtype), []
        growth, vectors = [], []
        for group, vector in zip(self._groups[1:], self._power_vectors):
            weights = group.matrix(
                [self._trainable_variables[i] for i in group.indices],
                self._compute_dtype)
            norm, v_new = layer_norms.spectral_norm(
                weights, ops.cast(vector, self._compute_dtype))
            growth.append(maximum(norm, 1.0))
            vectors.append(v_new)
        # The products of the later layers' growths, built from the end
        # (`ops.cumprod` is float32 for float64 under torch).
        later = [ops.ones((), self._compute_dtype)]
        for factor in reversed(growth):
            later.insert(0, factor * later[0])
        later = ops.stack(later)
        inputs = ops.sqrt(ops.convert_to_tensor(
            [float(g.rows) for g in self._groups], self._compute_dtype))
        return inputs * later, vectors

    def _backend_update_step(self, grads, trainable_variables,
                             learning_rate):
        """One step: every layer's gradient as a matrix, the choice of one
        layer (`_choose`), its new weights (`_move`), and the assignments
        of the optimizer's state (`_record`) and of the weights.

        Under a TensorFlow distribution strategy the gradients are summed
        over the replicas first, so that every replica makes the same
        choice and the same step, and assigns its own copy of each
        variable (see `_backend.distribute`).
        """
        grads = sum_over_replicas(list(grads))
        given = {self._get_variable_index(v): g
                 for g, v in zip(grads, trainable_variables)}
        matrices = [
            group.matrix([given.get(i, ops.zeros(s)) for i, s in zip(
                group.indices, group.shapes)], self._compute_dtype)
            for group in self._groups]
        choice = self._choose(matrices, learning_rate)
        new_weights, last_steps, slopes = self._move(choice)
        self._record(choice, last_steps, slopes)
        for variable in trainable_variables:
            self._assign_if_new(
                variable, new_weights[self._get_variable_index(variable)])

    def _choose(self, matrices, learning_rate):
        """The layer with the largest score `d_i^2 / L_i` (`-1` where a
        gradient or a dual norm is not finite) and every layer's step
        length.

        Every layer's dual norm is measured, since the choice compares them
        all; the directions are left to `_move`, which builds only the
        chosen layer's.
        """
        finite = ops.all(ops.stack(
            [ops.isfinite(ops.sum(m)) for m in matrices]))
        matrices = cond(finite, lambda: matrices,
                        lambda: [ops.zeros_like(m) for m in matrices])
        duals, measures = zip(*[self._layer_norm.dual_norm(m)
                                for m in matrices])
        duals = ops.stack(duals)
        # A solver that fails returns NaN (JAX's eigh): skip as for NaN
        # gradients.
        finite = ops.logical_and(finite, ops.all(ops.isfinite(duals)))
        call_on_host_if(ops.logical_not(finite), self._warn_skipped)
        scales, power_vectors = self._layer_scales()
        # Dual norms in the scaled norms, and the `L_i` of this step.
        duals = duals / scales
        measured = None
        if self.smoothness == ADAPTIVE:
            measured, smoothness = self._adaptive_smoothness(
                matrices, duals, scales, finite)
        else:
            smoothness = ops.convert_to_tensor(
                self.smoothness, self._compute_dtype) * ops.ones_like(duals)
        # The score `d^2 / L` as its square root, which cannot overflow.
        moving = smoothness > 0
        positive = ops.where(moving, smoothness, 1.0)
        scores = ops.where(moving, duals / ops.sqrt(positive), 0.0)
        # The lowest index among the best: TensorFlow's argmax does not
        # promise which of tied maxima it returns.
        layers = ops.arange(len(self._groups), dtype="int32")
        chosen = ops.where(finite, ops.min(ops.where(
            scores == ops.max(scores), layers, len(self._groups))), -1)
        lengths = ops.where(moving, ops.cast(
            learning_rate, self._compute_dtype) * duals / positive, 0.0)
        return _Choice(matrices, list(measures), finite, chosen, lengths,
                       scales, smoothness, measured, power_vectors)

    def _move(self, choice):
        """Every variable's new value by index (its own outside the chosen
        layer) and, with adaptive smoothness, every layer's last step and
        the slopes `<G, Delta>` of this step (0 outside the chosen layer).

        Each layer's step sits under a `cond`: JAX and TensorFlow then run
        one branch, and the spectral direction costs as much as all the
        dual norms together.
        """
        adaptive = self.smoothness == ADAPTIVE
        sizes = choice.lengths / choice.scales  # in the unscaled norms
        new_weights, last_steps, slopes = {}, [], []
        for k, group in enumerate(self._groups):
            current = [ops.convert_to_tensor(self._trainable_variables[i])
                       for i in group.indices]
            kept = (current, ops.convert_to_tensor(self._last_steps[k]),
                    ops.zeros((), self._compute_dtype)) if adaptive else (
                current,)
            outcome = cond(
                choice.chosen == k,
                self._step_builder(group, current, choice.matrices[k],
                                   choice.measures[k], sizes[k], adaptive),
                lambda kept=kept: kept)
            new_weights.update(zip(group.indices, outcome[0]))
            if adaptive:
                last_steps.append(outcome[1])
                slopes.append(outcome[2])
        return new_weights, last_steps, slopes

    def _record(self, choice, last_steps, slopes):
        """Assigns the optimizer's state after the step. A skipped step
        leaves every optimizer variable as it was, but for `chosen_layer`
        (and Keras' `iterations`)."""
        finite = choice.finite
        for vector, value in zip(self._power_vectors, choice.power_vectors):
            self.assign(vector, ops.where(finite, value,
                                          ops.convert_to_tensor(vector)))
        if self.smoothness == ADAPTIVE:
            # `L` of the chosen layer (its first, if it had none), and what
            # the next step measures this step's curvature with.
            layers = ops.arange(len(self._groups), dtype="int32")
            self.assign(self.layer_smoothness, ops.where(
                layers == choice.chosen, choice.smoothness, choice.measured))
            for variable, step in zip(self._last_steps, last_steps):
                self._assign_if_new(variable, step)
            length = ops.take(choice.lengths, ops.maximum(choice.chosen, 0))
            self.assign(self._last_step_stats, ops.where(finite, ops.stack(
                [ops.sum(ops.stack(slopes)), ops.square(length)]),
                ops.convert_to_tensor(self._last_step_stats)))
            self.assign(self._last_layer,
                        ops.where(finite, choice.chosen,
                                  ops.convert_to_tensor(self._last_layer)))
        self.assign(self.chosen_layer, choice.chosen)

    def _adaptive_smoothness(self, matrices, duals, scales, finite):
        """Every layer's `L` as measured (0 where not yet), and for this
        step (0 for a zero gradient).

        First the last step's curvature along itself,
        `kappa = <G_new - G_old, Delta> / ||Delta||^2`, updates its layer's
        `L`; then a layer that has not moved yet gets the `L` that makes its
        step `FIRST_STEP` times its weights' norm.
        """
        smoothness = ops.convert_to_tensor(self.layer_smoothness)
        previous = ops.convert_to_tensor(self._last_layer)
        zero = ops.zeros((), self._compute_dtype)
        inner = zero
        for k, (m, step) in enumerate(zip(matrices, self._last_steps)):
            inner = inner + cond(
                previous == k,
                lambda m=m, step=step: ops.sum(
                    m * ops.convert_to_tensor(step)),
                lambda: zero)
        slope, square_length = ops.unstack(
            ops.convert_to_tensor(self._last_step_stats))
        measured = ops.logical_and(ops.logical_and(
            finite, previous >= 0), square_length > 0)
        kappa = ops.where(measured, (inner - slope) / ops.where(
            measured, square_length, 1.0), 0.0)
        old = ops.take(smoothness, ops.maximum(previous, 0))
        new = ops.where(kappa > old,
                        maximum(FLOOR * kappa, GROWTH * old),
                        maximum(FLOOR * kappa, SHRINK * old))
        layers = ops.arange(len(self._groups), dtype="int32")
        smoothness = ops.where(ops.logical_and(
            measured, layers == previous), new, smoothness)
        sizes = ops.stack([
            cond(smoothness[k] > 0, lambda: zero,
                 lambda group=group: self._weight_size(group))
            for k, group in enumerate(self._groups)]) * scales
        first = duals / (FIRST_STEP * ops.where(sizes > 0, sizes, scales))
        return smoothness, ops.where(smoothness > 0, smoothness, first)

    def _weight_size(self, group):
        """The size of a layer's weights in its norm (`weight_size`)."""
        square = None
        for i in group.indices:
            w = ops.cast(self._trainable_variables[i], self._compute_dtype)
            term = ops.sum(ops.square(w))
            square = term if square is None else square + term
        return self._layer_norm.weight_size(square, group.rows,
                                            group.columns)

    def _assign_if_new(self, variable, value):
        # Under torch a `cond` hands back the very tensor a variable holds
        # when its branch kept it: then there is nothing to copy (JAX and
        # TensorFlow hand over another tensor, which is assigned).
        if value is not variable.value:
            self.assign(variable, value)

    def _warn_skipped(self):
        if not self._warned_skipped:
            self._warned_skipped = True
            warnings.warn(
                f"{type(self).__name__} skipped a step: a gradient or a dual "
                "norm was not finite (a diverged loss, NaN inputs or a "
                "failed eigendecomposition). `chosen_layer` is -1 after "
                "such a step; this warning is given once per optimizer.",
                stacklevel=2)

    def _step_builder(self, group, current, gradient, measure, size,
                      adaptive):
        """The branch computing one layer's new weights (a function per
        layer, so that each branch holds its own layer's tensors), and with
        `adaptive` also the step `Delta` and `<G, Delta>`."""
        def step():
            direction = self._layer_norm.unit_dualizer(
                gradient, measure, size)
            new = [w - ops.cast(d, w.dtype)
                   for w, d in zip(current, group.split(direction))]
            if not adaptive:
                return (new,)
            return new, -direction, -ops.sum(gradient * direction)

        return step

    def finalize_variable_values(self, var_list):
        """Overwrites the weights with their moving averages (with
        `use_ema`), each constrained one projected onto its set, as Keras
        projects after the overwrites during training: an average of
        points of a curved set lies off it."""
        super().finalize_variable_values(var_list)
        if self.use_ema:
            project_onto_sets(var_list)

    def get_config(self):
        config = super().get_config()
        config.update({"smoothness": self.smoothness, "norm": self.norm,
                       "scale": self.scale, "groups": self.groups})
        return config


fill_keyword_args(DSGD)
