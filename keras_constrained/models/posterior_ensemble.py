"""The Bayesian model average of weight samples, as one Keras model."""

import inspect

import keras
import numpy as np

from keras_constrained._validation import check_bool
from keras_constrained._validation import check_instance


@keras.saving.register_keras_serializable(package="keras_constrained")
class PosteriorEnsemble(keras.Model):
    """A model that averages the predictions of weight samples of a model.

    The ensemble holds `members`, weight samples of the built base `model`
    (for instance those a `keras_constrained.callbacks.PosteriorSampler`
    kept during a Langevin run), and its output is the mean over members
    of each member's predictive probabilities: the Bayesian model average.
    With `from_logits=True` a member's output is turned into probabilities
    by a softmax over the last axis; otherwise it is taken as it is.

    The members' weights are non-trainable variables of the ensemble, one
    per weight of `model`, with a leading member axis: shape
    `(len(members), *weight.shape)`. The ensemble therefore saves to
    `.keras` with its members and loads with `keras.saving.load_model`
    (after `import keras_constrained`); the base model is saved as its
    config only, and the ensemble never reads or changes its weights.

    A member is evaluated with the base model's `stateless_call` in
    inference mode (`training=False`: dropout off, batch normalization with
    the member's moving statistics). The members are evaluated as one
    batched computation, vectorized over the member axis:

    - JAX: `jax.vmap`, compiled with the rest of `predict`;
    - TensorFlow: `tf.vectorized_map` (TensorFlow itself falls back to a
      `tf.while_loop` over members, with a warning, for an operation it
      cannot vectorize);
    - torch: `torch.vmap`.

    Where vectorizing raises (a layer whose operations the backend's
    `vmap` does not support), the ensemble evaluates the members one after
    the other in a Python loop, still inside `call`, and keeps doing so.
    State outside `model.weights` (random seeds) is shared by all members.

    Args:
        model: a built `keras.Model` (Sequential, Functional or subclassed)
            whose weights the members give.
        members: a non-empty list of weight lists, each as
            `model.get_weights()` gives them: every weight, trainable and
            non-trainable, in `model.weights` order.
        from_logits: whether the base model outputs logits, to be turned
            into probabilities by a softmax over the last axis.
        name: the ensemble's name.

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
                              keras.layers.Dense(3)])
    rng = numpy.random.default_rng(0)
    members = [[w + 0.1 * rng.normal(size=w.shape).astype(w.dtype)
                for w in model.get_weights()] for _ in range(3)]
    ensemble = keras_constrained.models.PosteriorEnsemble(
        model, members, from_logits=True)
    probabilities = ensemble.predict(rng.normal(size=(16, 4)), verbose=0)
    ```
    """

    def __init__(self, model, members, from_logits=False, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        check_instance("model", model, keras.Model, "a built keras.Model")
        if not model.built:
            raise ValueError(
                f"`model` must be a built keras.Model; received model="
                f"{model.name!r}, which is not built: call it on data or "
                "`model.build(input_shape)` first.")
        self.from_logits = check_bool("from_logits", from_logits)
        shapes = [tuple(w.shape) for w in model.weights]
        if isinstance(members, _Placeholder):  # from_config: zeros, which
            count, members = members.count, None  # loading then fills
        else:
            members = _check_members(members, shapes)
            count = len(members)
        self.num_members = count
        # Not tracked: the base model's own weights are not the ensemble's
        # (only its config is saved), and they are never read.
        object.__setattr__(self, "_base_model", model)
        self.members = []
        for i, weight in enumerate(model.weights):
            initializer = ("zeros" if members is None else
                           np.stack([member[i] for member in members]).astype(
                               weight.dtype))
            self.members.append(self.add_weight(
                shape=(count,) + shapes[i], initializer=initializer,
                dtype=weight.dtype, trainable=False,
                name=f"member_{i}_{weight.name}"))
        # Where each of the base model's trainable and non-trainable
        # variables is: an index into `model.weights`, or None for state
        # outside the weights (seeds), which the members share.
        position = {id(w): i for i, w in enumerate(model.weights)}
        self._trainable = [position.get(id(v))
                           for v in model.trainable_variables]
        self._non_trainable = [position.get(id(v))
                               for v in model.non_trainable_variables]
        self._vectorize = True
        # `stateless_call` passes its keywords to `model.call` itself, which
        # may not take `training` (a subclassed model; its layers then run
        # in inference mode, Keras' default outside `fit`).
        parameters = inspect.signature(model.call).parameters.values()
        self._inference = {"training": False} if any(
            p.name == "training" or p.kind is p.VAR_KEYWORD
            for p in parameters) else {}

    @property
    def model(self):
        """The base model whose weights the members give."""
        return self._base_model

    def _member_output(self, stacked, x):
        """One member's predictive probabilities, from its weights."""
        base = self._base_model

        def values(indices, variables):
            return [v.value if i is None else stacked[i]
                    for i, v in zip(indices, variables)]

        out, _ = base.stateless_call(
            values(self._trainable, base.trainable_variables),
            values(self._non_trainable, base.non_trainable_variables),
            x, **self._inference)
        if self.from_logits:
            out = keras.ops.softmax(out, axis=-1)
        return out

    def call(self, x):
        stacked = [v.value for v in self.members]
        if self._vectorize:
            try:
                outputs = _vectorized_map(
                    lambda member: self._member_output(member, x), stacked)
                return keras.ops.mean(outputs, axis=0)
            except Exception:  # the backend's vmap cannot batch the model
                mean = self._loop(stacked, x)  # raises the model's own error
                self._vectorize = False
                return mean
        return self._loop(stacked, x)

    def _loop(self, stacked, x):
        """The members' mean, one member after the other."""
        total = 0.0
        for m in range(self.num_members):
            total = total + self._member_output([s[m] for s in stacked], x)
        return total / self.num_members

    def compute_output_spec(self, x):
        return self._base_model.compute_output_spec(x, **self._inference)

    def get_config(self):
        return {
            "name": self.name,
            "model": keras.saving.serialize_keras_object(self._base_model),
            "num_members": self.num_members,
            "from_logits": self.from_logits,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(
            config["model"])
        config["members"] = _Placeholder(config.pop("num_members"))
        return cls(**config)


class _Placeholder:
    """`count` members of zeros, for `from_config` (loading fills them)."""

    def __init__(self, count):
        self.count = count


def _check_members(members, shapes):
    """`members` as a list of lists of NumPy arrays of the weights' shapes."""
    if not isinstance(members, (list, tuple)) or not members:
        raise ValueError(
            "`members` must be a non-empty list of weight lists, each as "
            f"`model.get_weights()` gives them; received members={members!r}"
            [:300] + ("." if isinstance(members, (list, tuple)) else
                      f" of type {type(members).__name__}."))
    checked = []
    for m, member in enumerate(members):
        if isinstance(member, np.ndarray) or not isinstance(
                member, (list, tuple)):
            raise ValueError(
                f"`members` must be a list of weight lists; received "
                f"members[{m}] of type {type(member).__name__}.")
        if len(member) != len(shapes):
            raise ValueError(
                f"`members` must give the model's {len(shapes)} weights "
                f"each (as `model.get_weights()`); received members[{m}] "
                f"with {len(member)} arrays.")
        arrays = [np.asarray(w) for w in member]
        for i, (array, shape) in enumerate(zip(arrays, shapes)):
            if array.shape != shape:
                raise ValueError(
                    f"`members` must match the model's weight shapes; "
                    f"received members[{m}][{i}] of shape {array.shape}, "
                    f"where the model's weight {i} has shape {shape}.")
        checked.append(arrays)
    return checked


def _vectorized_map(function, stacked):
    """`function` over the leading axis of the list `stacked`, batched.

    `keras.ops.vectorized_map` is `jax.vmap`, `tf.vectorized_map` and
    `torch.vmap`; the backend's own error, if it cannot batch `function`,
    is left to the caller.
    """
    return keras.ops.vectorized_map(function, stacked)
