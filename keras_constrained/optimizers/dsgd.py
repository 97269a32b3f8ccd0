"""Duality structure gradient descent: one greedy layer per step."""

import math

import keras
from keras import ops

from keras_constrained._distribute import sum_over_replicas
from keras_constrained._distribute import update_variables
from keras_constrained._ops import cond
from keras_constrained.optimizers import layer_norms

SCALES = ("none", "architecture")


def _check_smoothness(smoothness):
    values = smoothness if isinstance(smoothness, (list, tuple)) else [
        smoothness]
    if not values or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool)
            and 0 < x < math.inf for x in values):
        raise ValueError(
            "`smoothness` must be a positive finite float or a non-empty list "
            f"of them (one per layer); received smoothness={smoothness!r}."
        )
    if isinstance(smoothness, (list, tuple)):
        return [float(x) for x in smoothness]
    return float(smoothness)


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

    # Casts and reshapes only where needed: under torch every `keras.ops`
    # call costs tens of microseconds of Python, a step's worth here.
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


@keras.saving.register_keras_serializable(package="keras_constrained")
class DSGD(keras.optimizers.Optimizer):
    """Duality structure gradient descent (Flynn, 2017): at every step only
    the layer with the largest guaranteed decrease of the loss moves.

    Each layer `i` carries a norm `||.||_i` (`norm`, optionally scaled by
    the rest of the network, `scale`) and a smoothness constant `L_i` (the
    gradient of the loss in layer `i` is `L_i`-Lipschitz in that norm). The
    descent lemma then guarantees that the step

    ```python
    W_i -= learning_rate / L_i * duality_map_i(G_i)   # G_i: layer gradient
    ```

    decreases the loss by at least `s_i / 2` (at `learning_rate=1`), with the
    score `s_i = ||G_i||_{i,*}^2 / L_i`. DSGD computes every layer's
    gradient and score and updates only the layer with the largest score
    (the lowest index on ties): steepest descent in the sum of the layer
    norms weighted by `sqrt(L_i)`. With one layer and the Frobenius norm it
    is gradient descent with step `learning_rate / L`.

    Norms of a layer matrix `W` (its kernel, reshaped to `(-1, units)`, with
    the bias as an extra row):
    - `"frobenius"`: `||W||_F`; the step is the layer's gradient step.
    - `"spectral"`: the largest singular value; the dual norm is the sum of
      the gradient's singular values and the step direction its polar factor
      `U V^T` (as in Muon). Both come from the eigendecomposition of the
      gradient's small Gram matrix, regularized below the float rounding
      of that matrix (`layer_norms.spectral_measure`): the dual norm `d`
      used is a lower bound of the nuclear norm (measured 0.5 % below it
      on float32 mini-batch gradients), and the direction `u` has
      `||u||_2 <= 1` and `<G, u> = d`, so that the descent guarantee above
      holds exactly with `d`. Only the chosen layer's direction is built.

    `scale="architecture"` multiplies layer `i`'s norm by
    `c_i = R_i * prod_{j > i} max(1, ||W_j||_2)`, the reconstruction of the
    paper's parameter-dependent norm: the growth of the gradient's Lipschitz
    constant with the input size and with the later layers' weights moves
    into the norm, so that one `L` can hold everywhere. `R_i` is
    `sqrt(rows of W_i)`, the norm of an input whose entries (and bias 1)
    are of size 1 (tanh or sigmoid units, standardized data); later layers
    are the later groups in the model's variable order (exact for a chain of
    layers); `||W_j||_2` is estimated by warm-started power iteration. The
    dual norm is then divided by `c_i` and the step by `c_i^2`.

    Layers: the variables whose paths share everything before the last `/`
    (`"dense_1/kernel"`, `"dense_1/bias"`) form one layer, in the order of
    their first variable; `groups` lists other groupings by path.
    `layer_names` holds the groups' names after `build()`, and the
    optimizer variable `chosen_layer` the index of the layer the last step
    updated (-1 before the first step, and after a step skipped for a
    non-finite gradient or dual norm);
    `keras_constrained.callbacks.LayerChoiceLogger` records it at every
    step.

    Mini-batch (stochastic) training: the layer is chosen and moved with the
    same mini-batch gradient. The guarantee then holds in expectation up to
    the gradient noise, so use `learning_rate` (the step multiplier `alpha`
    of `alpha / L_i`) of about 0.25 to 0.5, or a decaying schedule;
    `learning_rate=1` is the full-batch method.

    Args:
        learning_rate: float, schedule or callable: the step multiplier
            `alpha`, 1 for the full-batch method.
        smoothness: positive float, the constant `L` of every layer, or a
            list of one per layer (in the order of `layer_names`). With one
            `L` the choice of layer does not depend on it.
        norm: `"frobenius"` or `"spectral"`, every layer's norm.
        scale: `"none"` or `"architecture"`, the scale `c_i` above.
        groups: `None` or a list of lists of variable paths, each list one
            layer; variables not listed are grouped by layer.
        **kwargs: the arguments of `keras.optimizers.Optimizer`
            (`clipnorm`, `gradient_accumulation_steps`, `name`, ...);
            `weight_decay` is refused, since it would move every layer.

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

    def __init__(self, learning_rate=1.0, smoothness=1.0, norm="spectral",
                 scale="none", groups=None, name="dsgd", **kwargs):
        if kwargs.get("weight_decay"):
            raise ValueError(
                "DSGD moves one layer per step; decoupled weight decay would "
                "move them all. Use a kernel_regularizer instead; received "
                f"weight_decay={kwargs['weight_decay']!r}."
            )
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.smoothness = _check_smoothness(smoothness)
        if norm not in layer_norms.NORMS:
            raise ValueError(
                f"`norm` must be one of {layer_norms.NORMS}; received "
                f"norm={norm!r}."
            )
        if scale not in SCALES:
            raise ValueError(
                f"`scale` must be one of {SCALES}; received scale={scale!r}."
            )
        self.norm = norm
        self.scale = scale
        self.groups = _check_groups(groups)

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
            growth.append(ops.maximum(norm, 1.0))
            vectors.append(v_new)
        later = ops.flip(ops.cumprod(ops.flip(ops.stack(
            growth + [ops.ones((), self._compute_dtype)]))))
        inputs = ops.sqrt(ops.convert_to_tensor(
            [float(g.rows) for g in self._groups], self._compute_dtype))
        return inputs * later, vectors

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        """Replaces every gradient by the variable's new value (itself
        outside the chosen layer); `update_step` then assigns it.

        Every layer's dual norm is measured (the choice compares them all),
        but only the chosen layer's direction is built, under a `cond`:
        JAX and TensorFlow then run one branch, and the spectral direction
        costs as much as all the dual norms together. Under a TensorFlow
        distribution strategy the choice is made on the gradient summed
        over the replicas, the same on every replica.
        """
        grads = sum_over_replicas(list(grads))
        given = {self._get_variable_index(v): g
                 for g, v in zip(grads, trainable_variables)}
        matrices = [
            group.matrix([given.get(i, ops.zeros(s)) for i, s in zip(
                group.indices, group.shapes)], self._compute_dtype)
            for group in self._groups]
        finite = ops.all(ops.stack(
            [ops.isfinite(ops.sum(m)) for m in matrices]))
        matrices = cond(finite, lambda: matrices,
                        lambda: [ops.zeros_like(m) for m in matrices])
        duals, measures = zip(*[layer_norms.dual_norm(self.norm, m)
                                for m in matrices])
        duals = ops.stack(duals)
        # A solver that fails returns NaN (JAX's eigh): skip as for NaN
        # gradients.
        finite = ops.logical_and(finite, ops.all(ops.isfinite(duals)))
        scales, power_vectors = self._layer_scales()
        smoothness = ops.convert_to_tensor(
            self.smoothness, self._compute_dtype) * ops.ones_like(duals)
        scores = ops.square(duals / scales) / smoothness
        # The lowest index among the best: TensorFlow's argmax does not
        # promise which of tied maxima it returns.
        layers = ops.arange(len(self._groups), dtype="int32")
        chosen = ops.where(finite, ops.min(ops.where(
            scores == ops.max(scores), layers, len(self._groups))), -1)
        self.assign(self.chosen_layer, chosen)
        for vector, value in zip(self._power_vectors, power_vectors):
            self.assign(vector, value)
        sizes = (ops.cast(learning_rate, self._compute_dtype) * duals
                 / (smoothness * ops.square(scales)))
        new_values = {}
        for k, (group, m, measure) in enumerate(
                zip(self._groups, matrices, measures)):
            current = [ops.convert_to_tensor(self._trainable_variables[i])
                       for i in group.indices]
            new_values.update(zip(group.indices, cond(
                chosen == k,
                self._step_builder(group, current, m, measure, sizes[k]),
                lambda current=current: current)))
        update_variables(
            self, [new_values[self._get_variable_index(v)]
                   for v in trainable_variables],
            trainable_variables, learning_rate,
            super()._backend_update_step)

    def _step_builder(self, group, current, gradient, measure, size):
        """The branch computing one layer's new weights (a function per
        layer, so that each branch holds its own layer's tensors)."""
        def step():
            direction = layer_norms.unit_dualizer(
                self.norm, gradient, measure, size)
            return [w - ops.cast(d, w.dtype)
                    for w, d in zip(current, group.split(direction))]

        return step

    def update_step(self, gradient, variable, learning_rate):
        # `gradient` is the variable's new value, from
        # `_backend_update_step`: outside the chosen layer, the variable's
        # own value (under torch the very tensor it holds, which needs no
        # copy; JAX and TensorFlow hand over another tensor and assign).
        if gradient is not variable.value:
            self.assign(variable, gradient)

    def get_config(self):
        config = super().get_config()
        config.update({"smoothness": self.smoothness, "norm": self.norm,
                       "scale": self.scale, "groups": self.groups})
        return config
