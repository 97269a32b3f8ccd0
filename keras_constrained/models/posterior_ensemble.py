"""The Bayesian model average of weight samples, as one Keras model."""

import inspect

import keras
import numpy as np

from keras_constrained._validation import check_bool
from keras_constrained._validation import check_instance
from keras_constrained._validation import check_integer


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

    The members may come from several chains (independent runs, e.g. one
    per seed): `chain_lengths` says how many consecutive members each
    chain gave, `PosteriorEnsemble.pool` builds such an ensemble from one
    ensemble per chain, and `chain_probabilities` gives the members'
    probabilities per chain, as `keras_constrained.diagnostics` takes
    draws. The prediction is the mean over all members, each counting
    the same, whichever chain it comes from.

    Args:
        model: a built `keras.Model` (Sequential, Functional or subclassed)
            whose weights the members give.
        members: a non-empty list of weight lists, each as
            `model.get_weights()` gives them: every weight, trainable and
            non-trainable, in `model.weights` order.
        from_logits: whether the base model outputs logits, to be turned
            into probabilities by a softmax over the last axis.
        chain_lengths: the number of members of each chain, in order: the
            first `chain_lengths[0]` members are the first chain's, and
            so on; positive ints summing to `len(members)`. `None`: the
            members are one chain.
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

    def __init__(self, model, members, from_logits=False, chain_lengths=None,
                 name=None, **kwargs):
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
        self.chain_lengths = _check_chain_lengths(chain_lengths, count)
        # Not tracked: the base model's own weights are not the ensemble's
        # (only its config is saved), and they are never read.
        object.__setattr__(self, "_base_model", model)
        # Made by `chain_probabilities`; not tracked either (it tracks the
        # ensemble).
        object.__setattr__(self, "_member_model", None)
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
        self.built = True  # every variable is made: it saves as it is

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
        return keras.ops.mean(self._member_outputs(x), axis=0)

    def _member_outputs(self, x):
        """Every member's probabilities, stacked: `(members, batch, ...)`."""
        stacked = [v.value for v in self.members]
        if self._vectorize:
            try:
                return _vectorized_map(
                    lambda member: self._member_output(member, x), stacked)
            except Exception:  # the backend's vmap cannot batch the model
                outputs = self._loop(stacked, x)  # raises the model's error
                self._vectorize = False
                return outputs
        return self._loop(stacked, x)

    def _loop(self, stacked, x):
        """The members' outputs, one member after the other, stacked."""
        return keras.ops.stack([
            self._member_output([s[m] for s in stacked], x)
            for m in range(self.num_members)])

    def chain_probabilities(self, x, batch_size=None):
        """Every member's predictive probabilities, per chain.

        The draws that `keras_constrained.diagnostics` (`rhat`, `ess`,
        ...) take: entry `[c, d]` is the probabilities that member `d` of
        chain `c` predicts for `x`, computed as the ensemble's `predict`
        computes them (the members evaluated together, in batches of
        `batch_size`), before they are averaged. The diagnostics need at
        least 2 chains and 4 draws per chain.

        Args:
            x: the inputs, as `predict` takes them.
            batch_size: the number of inputs per batch, as in `predict`;
                `None`: Keras' default (32).

        Returns:
            A NumPy array of shape `(chains, draws, *output_shape)`:
            `(len(chain_lengths), chain_lengths[0], len(x), classes)` for
            a classifier.

        Raises:
            ValueError: the chains are of different lengths (the
                diagnostics need as many draws from every chain; pool
                runs that kept as many samples, e.g. the same
                `max_samples` of `PosteriorSampler`).

        Example:

        ```python
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        rng = numpy.random.default_rng(0)
        members = [[w + rng.normal(size=w.shape).astype(w.dtype)
                    for w in model.get_weights()] for _ in range(10)]
        ensemble = keras_constrained.models.PosteriorEnsemble(
            model, members, from_logits=True, chain_lengths=[5, 5])
        x = rng.normal(size=(16, 4))
        draws = ensemble.chain_probabilities(x)  # (2, 5, 16, 3)
        keras_constrained.diagnostics.rhat(draws)  # (16, 3), about 1
        ```
        """
        if len(set(self.chain_lengths)) > 1:
            raise ValueError(
                "`chain_probabilities` needs chains of equal length, as the "
                "diagnostics take draws of shape (chains, draws, ...); this "
                f"ensemble has chain_lengths={self.chain_lengths}. Pool runs "
                "that kept as many samples each.")
        batch_size = check_integer("batch_size", batch_size, 1,
                                   optional=True)
        if self._member_model is None:
            object.__setattr__(self, "_member_model",
                               _MemberProbabilities(self))
        # Batch first, so that `predict` batches and concatenates it.
        outputs = np.moveaxis(np.asarray(self._member_model.predict(
            x, batch_size=batch_size, verbose=0)), 1, 0)
        return outputs.reshape(
            (len(self.chain_lengths), self.chain_lengths[0])
            + outputs.shape[1:])

    @classmethod
    def pool(cls, ensembles, from_logits=None, name=None):
        """One ensemble of the members of several chains.

        Independent runs of one model (one per seed, say), each collected
        as a `PosteriorEnsemble` (`PosteriorSampler.ensemble()`), pooled
        into one posterior: its members are all the chains' members, in
        the order of `ensembles`, and its `chain_lengths` says which
        belong to which chain (an ensemble that is itself pooled brings
        its chains as they are). Its prediction is the mean over all
        members, so a chain counts as much as it has members. The first
        chain's base model evaluates every member.

        Args:
            ensembles: a non-empty list of the chains: `PosteriorEnsemble`s
                of models of one architecture (the same weights, of the
                same shapes and dtypes, and the same layer classes), or
                `keras_constrained.callbacks.PosteriorSampler`s that have
                samples (turned into ensembles with their `ensemble`).
            from_logits: whether the base model outputs logits. `None`:
                as the ensembles in `ensembles` say (they must agree), or
                `False` if there are only samplers. The ensembles in
                `ensembles` must agree with it.
            name: the pooled ensemble's name.

        Returns:
            A `PosteriorEnsemble`.

        Raises:
            ValueError: `ensembles` is empty or not a list, holds
                something else than ensembles and samplers (or a sampler
                without samples), or its chains differ in architecture or
                `from_logits`.

        Example:

        ```python
        def chain(seed):
            keras.utils.set_random_seed(seed)
            model = keras.Sequential([keras.Input((4,)),
                                      keras.layers.Dense(3)])
            members = [[w + 0.1 * numpy.random.normal(size=w.shape)
                        for w in model.get_weights()] for _ in range(4)]
            return keras_constrained.models.PosteriorEnsemble(
                model, members, from_logits=True)

        pooled = keras_constrained.models.PosteriorEnsemble.pool(
            [chain(0), chain(1)])
        pooled.chain_lengths  # (4, 4)
        x = numpy.random.normal(size=(16, 4))
        probabilities = pooled.predict(x, verbose=0)  # (16, 3)
        draws = pooled.chain_probabilities(x)  # (2, 4, 16, 3)
        ```
        """
        chains = _check_chains(ensembles, from_logits)
        base = chains[0].model
        members, lengths = [], []
        for chain in chains:
            stacked = [keras.ops.convert_to_numpy(v) for v in chain.members]
            members.extend([s[m] for s in stacked]
                           for m in range(chain.num_members))
            lengths.extend(chain.chain_lengths)
        return cls(base, members, from_logits=chains[0].from_logits,
                   chain_lengths=lengths, name=name)

    def compute_output_spec(self, x):
        return self._base_model.compute_output_spec(x, **self._inference)

    def get_config(self):
        return {
            "name": self.name,
            "model": keras.saving.serialize_keras_object(self._base_model),
            "num_members": self.num_members,
            "from_logits": self.from_logits,
            "chain_lengths": list(self.chain_lengths),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(
            config["model"])
        config["members"] = _Placeholder(config.pop("num_members"))
        return cls(**config)


class _MemberProbabilities(keras.Model):
    """Every member's probabilities, batch first: `(batch, members, ...)`,
    for `PosteriorEnsemble.chain_probabilities` to `predict`."""

    def __init__(self, ensemble):
        super().__init__(name=f"{ensemble.name}_members")
        self.ensemble = ensemble
        self.built = True  # its variables are the ensemble's

    def call(self, x):
        return keras.ops.moveaxis(self.ensemble._member_outputs(x), 0, 1)


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


def _check_chain_lengths(chain_lengths, count):
    """`chain_lengths` as a tuple of positive ints summing to `count`."""
    if chain_lengths is None:
        return (count,)
    allowed = ("`chain_lengths` must be None or a non-empty list of "
               f"positive ints summing to the number of members ({count}); "
               f"received chain_lengths={chain_lengths!r}"[:300])
    if not isinstance(chain_lengths, (list, tuple)) or not chain_lengths:
        raise ValueError(allowed + ".")
    for length in chain_lengths:
        if (isinstance(length, (bool, np.bool_))
                or not isinstance(length, (int, np.integer)) or length < 1):
            raise ValueError(allowed + ".")
    if sum(chain_lengths) != count:
        raise ValueError(allowed + f", which sums to {sum(chain_lengths)}.")
    return tuple(int(length) for length in chain_lengths)


def _check_chains(ensembles, from_logits):
    """The chains `ensembles` of `PosteriorEnsemble.pool`, as ensembles."""
    # Imported here: the callbacks import this module.
    from keras_constrained.callbacks.posterior_sampler import (
        PosteriorSampler)

    if not isinstance(ensembles, (list, tuple)) or not ensembles:
        raise ValueError(
            "`ensembles` must be a non-empty list of PosteriorEnsembles (or "
            "PosteriorSamplers), one per chain; received "
            f"ensembles={ensembles!r}"[:300]
            + ("." if isinstance(ensembles, (list, tuple)) else
               f" of type {type(ensembles).__name__}."))
    for i, chain in enumerate(ensembles):
        if not isinstance(chain, (PosteriorEnsemble, PosteriorSampler)):
            raise ValueError(
                "`ensembles` must hold PosteriorEnsembles or "
                f"PosteriorSamplers; received ensembles[{i}] of type "
                f"{type(chain).__name__}.")
    if from_logits is None:
        first = next((i for i, c in enumerate(ensembles)
                      if isinstance(c, PosteriorEnsemble)), None)
        asked = False if first is None else ensembles[first].from_logits
        source = f"ensembles[{first}] has from_logits={asked}"
    else:
        asked = check_bool("from_logits", from_logits)
        source = f"`pool` was given from_logits={asked}"
    chains = []
    for i, chain in enumerate(ensembles):
        if isinstance(chain, PosteriorSampler):
            try:
                chain = chain.ensemble(from_logits=asked)
            except ValueError as error:
                raise ValueError(f"`ensembles[{i}]` cannot be pooled: "
                                 f"{error}") from error
        elif chain.from_logits != asked:
            raise ValueError(
                "`ensembles` must agree on `from_logits`; received "
                f"ensembles[{i}] with from_logits={chain.from_logits}, "
                f"where {source}.")
        chains.append(chain)
    first = _architecture(chains[0].model)
    for i, chain in enumerate(chains[1:], 1):
        difference = _difference(first, _architecture(chain.model))
        if difference:
            raise ValueError(
                "`ensembles` must be chains of one architecture; received "
                f"ensembles[{i}], whose model differs from ensembles[0]'s: "
                f"{difference}.")
    return chains


def _architecture(model):
    """What `pool` compares of the chains' models."""
    return {"layer classes": [type(layer).__name__ for layer in model.layers],
            "weight shapes": [tuple(w.shape) for w in model.weights],
            "weight dtypes": [str(w.dtype) for w in model.weights]}


def _difference(first, other):
    """The first of `other`'s properties that differ from `first`'s, in
    words; `""` if none does."""
    for key in first:
        if first[key] != other[key]:
            return f"{key} {other[key]} instead of {first[key]}"[:400]
    return ""


def _vectorized_map(function, stacked):
    """`function` over the leading axis of the list `stacked`, batched.

    `keras.ops.vectorized_map` is `jax.vmap`, `tf.vectorized_map` and
    `torch.vmap`; the backend's own error, if it cannot batch `function`,
    is left to the caller.
    """
    return keras.ops.vectorized_map(function, stacked)
