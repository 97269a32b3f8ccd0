"""Batchless normalization (Berger, arXiv:2212.14729): normalize with a
learned Gaussian instead of batch statistics.

Each feature has a mean `mu` and a standard deviation `sigma` that are
ordinary trainable weights. The output is
`gamma * (x - sg(mu)) / sg(sigma) + beta` (`sg` = stop-gradient), so the task
loss trains `gamma`, `beta` and the layers below, never `mu` and `sigma`.
They are trained instead by the Gaussian negative log-likelihood of the
layer's inputs, `mean(log sigma) + mean(((sg(x) - mu) / sigma)**2) / 2`,
added with `add_loss` in training; its gradient never reaches `x`. Nothing
depends on other examples of the batch: a batch processed one example at a
time with gradient accumulation gives the same update, and training and
inference compute the same function.
"""

import math

import keras
from keras import ops

from keras_constrained._backend import ops as backend_ops
from keras_constrained._validation import check_bool
from keras_constrained._validation import check_choice
from keras_constrained._validation import check_integer
from keras_constrained._validation import check_positive
from keras_constrained._validation import check_real

PARAMETRIZATIONS = ("log", "abs", "inv")


@keras.saving.register_keras_serializable(package="keras_constrained")
class BatchlessNormalization(keras.layers.Layer):
    """Normalizes each feature with a learned mean and standard deviation.

    Like `keras.layers.BatchNormalization`, but the mean `mu` and the
    standard deviation `sigma` of every feature are trainable weights fitted
    by a Gaussian negative log-likelihood (NLL) that the layer adds to the
    model's loss in training:

        outputs = gamma * (x - sg(mu)) / sg(sigma) + beta
        loss   += loss_weight * (mean_c(log sigma_c)
                                 + mean(((sg(x) - mu) / sigma)**2) / 2)

    `sg` is stop-gradient: the task loss does not move `mu` and `sigma`, and
    the NLL does not move the activations. The first mean runs over the
    features, the second over every element of the batch (batch, spatial and
    feature axes), so the NLL is averaged over the batch like a task loss
    with Keras' default reduction: micro-batches with
    `gradient_accumulation_steps` then give exactly the update of the whole
    batch. No running statistics exist; training and inference compute the
    same function, and the NLL is added only when `training` is true.

    Mixed precision: like `keras.layers.BatchNormalization`, the layer
    computes in float32 under a `mixed_float16` or `mixed_bfloat16` policy
    (its weights and NLL are float32; the outputs are cast to the compute
    dtype), so the NLL neither overflows nor loses its digits.

    With `gauge=True` the loss is shifted by the constant (for gradients)
    `sg(mean_c(log sigma_c)) + 1/2`, so its value is the mismatch between the
    data and the Gaussian, about 0 when they agree; gradients are unchanged.
    Under SGD `loss_weight` is a learning-rate multiplier for `mu` and
    `sigma`; Adam-like optimizers ignore it.

    The NLL is part of the `loss` that `fit` logs, so that loss can rise
    while the task loss falls. Build the model as a
    `keras_constrained.layers.BatchlessSequential` (or mix
    `BatchlessNLLMixin` into a `keras.Model`) to log the NLL terms of all
    its layers as the metric `bln_nll`: `loss - bln_nll` is the task loss.

    Start from data with `keras_constrained.layers.initialize_from_data`,
    and convert a trained model's `BatchNormalization` layers with
    `keras_constrained.layers.migrate_batch_normalization`.

    Args:
        axis: int or list of ints, the feature axes: each index along them
            has its own `mu`, `sigma`, `gamma`, `beta`; they are shared over
            all other axes. Not the batch axis 0.
        std_parametrization: how the weight `std` holds `sigma`: `"log"`
            (`std = log(sigma)`), `"abs"` (`sigma = |std| + epsilon`) or
            `"inv"` (`1 / sigma = |std| + epsilon`).
        epsilon: positive float, the floor of `sigma` (`"abs"`) or of
            `1 / sigma` (`"inv"`), and of the standard deviations that
            `initialize` sets.
        center: whether to add the learned offset `beta`.
        scale: whether to multiply by the learned scale `gamma`.
        init_mean: initial `mu`.
        init_std: positive float, the initial `sigma`.
        loss_weight: positive float, the weight of the NLL in the loss.
        gauge: whether to shift the NLL's value to about 0 (see above).
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras_constrained.layers.BatchlessNormalization(),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    ])
    model.compile(
        keras.optimizers.SGD(0.01, gradient_accumulation_steps=4),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = numpy.random.normal(size=(8, 8, 8, 3))
    model.fit(x, numpy.zeros(8), batch_size=1, verbose=0)  # 2 updates
    ```
    """

    def __init__(self, axis=-1, std_parametrization="log", epsilon=1e-5,
                 center=True, scale=True, init_mean=0.0, init_std=1.0,
                 loss_weight=1.0, gauge=True, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_list(axis)
        self.std_parametrization = check_choice(
            "std_parametrization", std_parametrization, PARAMETRIZATIONS)
        self.epsilon = check_positive("epsilon", epsilon)
        self.center = check_bool("center", center)
        self.scale = check_bool("scale", scale)
        self.init_mean = check_real("init_mean", init_mean)
        self.init_std = check_positive("init_std", init_std)
        self.loss_weight = check_positive("loss_weight", loss_weight)
        self.gauge = check_bool("gauge", gauge)
        self._nll_terms = ()

    def build(self, input_shape):
        rank = len(input_shape)
        for a in self.axis:
            if not -rank <= a < rank or a % rank == 0:
                raise ValueError(
                    f"`axis` must name feature axes of the {rank}-D input "
                    f"(shape {tuple(input_shape)}): integers in "
                    f"[{1 - rank}, -1] or [1, {rank - 1}], not the batch "
                    f"axis; received axis={self.axis!r}.")
        self._axes = sorted({a % rank for a in self.axis})
        shape = tuple(input_shape[a] for a in self._axes)
        if None in shape:
            raise ValueError(
                f"The feature axes {self.axis} of the input (shape "
                f"{tuple(input_shape)}) must have a known size.")
        self._broadcast_shape = [input_shape[a] if a in self._axes else 1
                                 for a in range(rank)]
        # Not autocast: `call` computes in float32 or wider (see there).
        self.mean = self.add_weight(
            shape=shape, name="mean", autocast=False,
            initializer=keras.initializers.Constant(self.init_mean))
        # A Python number: `build` may run on symbolic inputs (a model
        # built lazily, by `fit` or a first call), where a tensor computed
        # here could not be turned into a constant.
        self.std = self.add_weight(
            shape=shape, name="std", autocast=False,
            initializer=keras.initializers.Constant(_std_weight(
                float(self.init_std), self.std_parametrization,
                self.epsilon, math.log, max)))
        self.gamma = self.add_weight(
            shape=shape, name="gamma", initializer="ones",
            autocast=False) if self.scale else None
        self.beta = self.add_weight(
            shape=shape, name="beta", initializer="zeros",
            autocast=False) if self.center else None

    def _std_weight(self, sigma):
        """The value of the weight `std` that stands for `sigma` (a
        tensor)."""
        return _std_weight(ops.cast(sigma, self.variable_dtype),
                           self.std_parametrization, self.epsilon, ops.log,
                           backend_ops.maximum)

    def inverse_and_log_std(self):
        """`1 / sigma` and `log(sigma)`, each of the weights' shape."""
        std = self.std
        if self.std_parametrization == "log":
            return ops.exp(-std), ops.convert_to_tensor(std)
        magnitude = ops.abs(std) + self.epsilon
        if self.std_parametrization == "abs":
            return 1 / magnitude, ops.log(magnitude)
        return magnitude, -ops.log(magnitude)

    def call(self, inputs, training=None):
        # In float32 under a mixed-precision policy, as Keras'
        # BatchNormalization computes: in float16 the squares of inputs
        # of about 300 overflow, and a sum over a batch loses its digits.
        dtype = backend_ops.float32_or_wider(inputs.dtype)
        inputs = ops.cast(inputs, dtype)

        def broadcast(w):
            return ops.reshape(ops.cast(w, dtype), self._broadcast_shape)

        inverse_std, log_std = self.inverse_and_log_std()
        mean = broadcast(self.mean)
        inverse_std_b = broadcast(inverse_std)
        outputs = ((inputs - ops.stop_gradient(mean))
                   * ops.stop_gradient(inverse_std_b))
        if self.scale:
            outputs = outputs * broadcast(self.gamma)
        if self.center:
            outputs = outputs + broadcast(self.beta)
        if training:
            z = (ops.stop_gradient(inputs) - mean) * inverse_std_b
            mean_log_std = backend_ops.mean(ops.cast(log_std, dtype))
            nll = mean_log_std + 0.5 * backend_ops.mean(ops.square(z))
            if self.gauge:
                nll = nll - ops.stop_gradient(mean_log_std) - 0.5
            term = self.loss_weight * nll
            self.add_loss(term)
            # Keep the terms still among the losses Keras holds (it clears
            # them when the model's next forward pass starts), so that
            # `BatchlessNLLMixin` can tell them apart from the task loss.
            self._nll_terms = tuple(
                t for t in self._nll_terms
                if any(t is loss for loss in self.losses)) + (term,)
        return ops.cast(outputs, self.compute_dtype)

    def nll_terms_in(self, losses):
        """The NLL terms this layer added that are among `losses` (a
        model's `losses`, the additional terms of its current loss)."""
        return [t for t in self._nll_terms
                if any(t is loss for loss in losses)]

    def set_statistics(self, mean, std):
        """Sets `mu` to `mean` and `sigma` to `std` (arrays of the weights'
        shape), leaving `gamma` and `beta` alone."""
        self.mean.assign(ops.cast(mean, self.mean.dtype))
        self.std.assign(self._std_weight(std))

    def initialize(self, inputs):
        """Sets `mu` and `sigma` to the mean and standard deviation of each
        feature of `inputs`, a sample of this layer's inputs (standard
        deviations below `epsilon` become `epsilon`)."""
        inputs = ops.cast(inputs, self.mean.dtype)
        shared = [a for a in range(len(inputs.shape)) if a not in self._axes]
        self.set_statistics(
            backend_ops.mean(inputs, axis=shared),
            backend_ops.maximum(ops.sqrt(backend_ops.var(inputs, axis=shared)),
                         self.epsilon))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(),
                "axis": self.axis,
                "std_parametrization": self.std_parametrization,
                "epsilon": self.epsilon,
                "center": self.center,
                "scale": self.scale,
                "init_mean": self.init_mean,
                "init_std": self.init_std,
                "loss_weight": self.loss_weight,
                "gauge": self.gauge}


def _std_weight(sigma, parametrization, epsilon, log, maximum):
    """The value of the weight `std` that stands for `sigma`, with `log` and
    `maximum` from `math` (Python numbers, in `build`) or from the ops
    (tensors): the one formula of both."""
    if parametrization == "log":
        return log(sigma)
    target = sigma if parametrization == "abs" else 1 / sigma
    return maximum(target - epsilon, 0.0)


def _axis_list(axis):
    allowed = "an int or a non-empty list of ints"
    if isinstance(axis, (list, tuple)) and not axis:
        raise ValueError(f"`axis` must be {allowed}; received axis={axis!r}.")
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return [check_integer("axis", a, allowed=allowed) for a in axes]


def migrate_batch_normalization(model, **kwargs):
    """A copy of `model` with each `BatchNormalization` made batchless.

    Every `keras.layers.BatchNormalization` becomes a
    `BatchlessNormalization` on the same axis with `mu = moving_mean`,
    `sigma = sqrt(moving_variance + epsilon)` and the same `gamma` and
    `beta`, so the copy computes the original model's inference function
    (up to rounding), and fine-tuning it needs no batch statistics. Other
    layers are copied with their weights. The copy is not compiled.

    Args:
        model: a Sequential or Functional `keras.Model`.
        **kwargs: arguments for the new `BatchlessNormalization` layers
            (`std_parametrization`, `loss_weight`, ...).

    Returns:
        The new model.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(4),
        keras.layers.BatchNormalization(),
    ])
    batchless = keras_constrained.layers.migrate_batch_normalization(model)
    x = numpy.random.normal(size=(5, 3))
    numpy.testing.assert_allclose(
        batchless.predict(x, verbose=0), model.predict(x, verbose=0),
        atol=1e-5)
    ```
    """

    def clone(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            return BatchlessNormalization(
                axis=layer.axis, center=layer.center, scale=layer.scale,
                name=layer.name, **kwargs)
        return layer.__class__.from_config(layer.get_config())

    migrated = keras.models.clone_model(model, clone_function=clone)
    for old, new in zip(model.layers, migrated.layers):
        if isinstance(old, keras.layers.BatchNormalization):
            # NumPy copies: under JAX the two models must not share arrays
            # (a compiled call may donate and delete them).
            weights = {w.name: ops.convert_to_numpy(w) for w in old.weights}
            new.set_statistics(
                weights["moving_mean"],
                ops.sqrt(weights["moving_variance"] + old.epsilon))
            for name in ("gamma", "beta"):
                if getattr(new, name) is not None:
                    getattr(new, name).assign(weights[name])
        else:
            new.set_weights(old.get_weights())
    return migrated
