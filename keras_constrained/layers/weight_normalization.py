"""Weight normalization (Salimans and Kingma, arXiv:1602.07868): a kernel
reparametrized as `w = g * v / ||v||` per output unit.

The wrapper owns `g` and uses the wrapped layer's own kernel variable as `v`.
In `call` it computes `w` and runs the wrapped layer statelessly with `w` in
place of its kernel (`Layer.stateless_call`), so gradients flow through
`g * v / ||v||` into `g` and `v` on every backend and under `jit`; the kernel
variable itself is never overwritten.
"""

import keras
from keras import ops

from keras_constrained._backend.ops import float32_or_wider
from keras_constrained._backend.ops import mean
from keras_constrained._backend.ops import var
from keras_constrained._validation import check_bool
from keras_constrained._validation import check_instance

SUPPORTED = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D,
             keras.layers.Conv3D, keras.layers.Conv1DTranspose,
             keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)
TRANSPOSED = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
              keras.layers.Conv3DTranspose)


@keras.saving.register_keras_serializable(package="keras_constrained")
class WeightNormalization(keras.layers.Wrapper):
    """Trains a Dense or Conv layer's kernel as `w = g * v / ||v||`.

    Each output unit (Dense) or output channel (Conv) has its own gain `g`,
    and `||v||` is the norm of its incoming weights: over all kernel axes
    but the output-channel axis (the last one; the second-to-last for
    `Conv*Transpose`). This decouples the length of each weight vector from
    its direction, which conditions gradient descent better, at the cost of
    one norm per unit per step and with no dependence on the batch.

    At build `g` is set to `||v||`, so the wrapped layer starts computing
    exactly what it computed before. With `data_init=True`,
    `keras_constrained.layers.initialize_from_data(model, x)` (or the
    layer's own `initialize(inputs)`) then applies the paper's data-dependent
    initialization: on a sample of inputs it sets `g = 1 / std(t)` and the
    bias to `-mean(t) / std(t)`, where `t` is the pre-activation computed
    with `v / ||v||`, so that every unit's pre-activation has zero mean and
    unit variance on that sample. It is an explicit call, once, before
    training, because a one-time data-dependent assignment cannot run inside
    a compiled train step portably.

    Mixed precision: under a `mixed_float16` or `mixed_bfloat16` policy the
    norms `||v||` and `w` are computed in float32 (`g` is a float32
    weight); the wrapped layer then computes in its compute dtype.

    The wrapped layer's other state is used read-only, and layers with
    quantized or LoRA kernels are not supported. No unit's `v` may be zero
    (its direction is undefined); Keras' random kernel initializers never
    give one.

    Args:
        layer: a `keras.layers.Dense`, `Conv1D`, `Conv2D`, `Conv3D` or
            `Conv*Transpose` layer (or a subclass).
        data_init: whether `initialize_from_data` applies the data-dependent
            initialization to this layer.
        **kwargs: base `Layer` arguments (`name`, ...).

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras_constrained.layers.WeightNormalization(
            keras.layers.Conv2D(4, 3, activation="relu")),
        keras.layers.Flatten(),
        keras_constrained.layers.WeightNormalization(keras.layers.Dense(2)),
    ])
    x = numpy.random.normal(size=(16, 8, 8, 3))
    keras_constrained.layers.initialize_from_data(model, x)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    model.fit(x, numpy.zeros(16), batch_size=8, verbose=0)
    ```
    """

    def __init__(self, layer, data_init=True, **kwargs):
        check_instance(
            "layer", layer, SUPPORTED,
            "a Dense, Conv1D/2D/3D or Conv1D/2D/3DTranspose layer (a layer "
            "with a kernel whose output-channel axis is known)")
        super().__init__(layer, **kwargs)
        self.data_init = check_bool("data_init", data_init)

    def build(self, input_shape):
        super().build(input_shape)
        kernel = self.layer.kernel
        if not isinstance(kernel, keras.Variable):
            raise ValueError(
                f"`layer`={self.layer.name!r} has a computed kernel (LoRA or "
                "quantization); WeightNormalization needs a plain kernel "
                "variable.")
        rank = len(kernel.shape)
        out_axis = rank - 2 if isinstance(self.layer, TRANSPOSED) else rank - 1
        self._norm_axes = [a for a in range(rank) if a != out_axis]
        self._gain_shape = [kernel.shape[a] if a == out_axis else 1
                            for a in range(rank)]
        # `g = ||v||` as an initializer, not an `assign`: when the model is
        # built lazily (by `fit` or a first call) `build` runs in a
        # stateless scope that would drop an assignment, and the variables
        # are initialized on leaving it, the kernel (created first) before
        # `g`.
        def norm_of_kernel(shape, dtype=None):
            return ops.cast(ops.reshape(
                ops.stop_gradient(self._norm(self.layer.kernel)), shape),
                dtype)

        # The kernel's variable dtype (inside an autocasting layer
        # `kernel.dtype` names the compute dtype); not autocast, so that
        # `normalized_kernel` computes in float32 or wider.
        self.g = self.add_weight(shape=(kernel.shape[out_axis],), name="g",
                                 initializer=norm_of_kernel, autocast=False,
                                 dtype=self.layer.variable_dtype)

    def _norm(self, v):
        # In float32 under a mixed-precision policy: float16 squares of
        # weights below 2.4e-4 underflow to 0.
        v = ops.cast(v, float32_or_wider(v.dtype))
        return ops.sqrt(ops.sum(ops.square(v), axis=self._norm_axes,
                                keepdims=True))

    def _direction(self, v):
        norm = self._norm(v)
        return ops.cast(v, norm.dtype) / norm

    def normalized_kernel(self):
        """The kernel the wrapped layer computes with, `g * v / ||v||`
        (in float32 under a mixed-precision policy; the wrapped layer casts
        it to its compute dtype)."""
        v = self.layer.kernel
        return ops.reshape(self.g, self._gain_shape) * self._direction(v)

    def _call_with(self, inputs, replacements):
        """Runs the wrapped layer with some variables' values replaced."""
        def values(variables):
            return [replacements.get(id(v), v.value) for v in variables]

        outputs, _ = self.layer.stateless_call(
            values(self.layer.trainable_variables),
            values(self.layer.non_trainable_variables), inputs)
        return outputs

    def call(self, inputs):
        outputs = self._call_with(
            inputs, {id(self.layer.kernel): self.normalized_kernel()})
        # `stateless_call` runs `layer.call`, not `layer.__call__`, which
        # would add the activity regularization.
        if self.layer.activity_regularizer is not None:
            self.add_loss(self.layer.activity_regularizer(outputs))
        return outputs

    def initialize(self, inputs):
        """Data-dependent initialization on `inputs`, a sample of this
        layer's inputs: sets `g` and the bias so that every unit's
        pre-activation has zero mean and unit variance on it. A unit whose
        pre-activation is constant on the sample gets `g = 1`."""
        layer = self.layer
        replacements = {id(layer.kernel): self._direction(layer.kernel)}
        if layer.use_bias:
            replacements[id(layer.bias)] = ops.zeros(layer.bias.shape,
                                                layer.bias.dtype)
        # The statistics are those of the pre-activation: switch the
        # activation off for this one eager call.
        activation, layer.activation = layer.activation, None
        try:
            t = self._call_with(inputs, replacements)
        finally:
            layer.activation = activation
        channels_first = getattr(layer, "data_format", None) \
            == "channels_first"
        channel_axis = 1 if channels_first else len(t.shape) - 1
        shared = [a for a in range(len(t.shape)) if a != channel_axis]
        std = ops.sqrt(var(t, axis=shared))
        inverse_std = ops.where(std > 0, 1 / ops.where(std > 0, std, 1), 1)
        self.g.assign(ops.cast(inverse_std, self.g.dtype))
        if layer.use_bias:
            layer.bias.assign(ops.cast(
                -mean(t, axis=shared) * inverse_std, layer.bias.dtype))

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "data_init": self.data_init}
