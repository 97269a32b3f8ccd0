"""Small helpers shared by the tests (the package itself never needs them)."""

import keras
import numpy as np

from keras_constrained.optimizers import layer_norms


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def compiled(fn):
    """`fn` compiled the way the current backend compiles train steps.

    Backend-specific on purpose: the package's geometry must trace under
    `jax.jit` and `tf.function`; torch runs eagerly.
    """
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    return fn


def save_and_reload(model, tmp_path):
    path = str(tmp_path / "model.keras")
    model.save(path)
    return keras.saving.load_model(path)


def matrix_view(w):
    """The kernel as the matrix the constraints see: `(-1, last axis)`."""
    w = np.asarray(w)
    return w.reshape(-1, w.shape[-1])


class Particles(keras.layers.Layer):
    """A weight of independent particles in the potential `k/2 * sum(w**2)`.

    The curvature `k` is a number or an array of the weight's shape.

    The layer passes its input through and adds the potential as a loss, so
    `model.fit` on dummy data runs one optimizer step per batch with the
    gradient `k * w` (exactly 0 with `curvature=0`).
    """

    def __init__(self, shape, curvature=0.0, constraint=None,
                 initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.particle_shape = tuple(shape)
        self.curvature = (curvature if np.isscalar(curvature)
                          else np.asarray(curvature, "float32"))
        self.w = self.add_weight(shape=self.particle_shape,
                                 initializer=initializer,
                                 constraint=constraint, name="w")

    def call(self, x):
        self.add_loss(keras.ops.sum(keras.ops.multiply(
            0.5 * self.curvature, keras.ops.square(self.w))))
        return x


class WeightRecorder(keras.callbacks.Callback):
    """The model's weights after every training batch, in `weights`."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append(self.model.get_weights())


def particle_model(optimizer, **particle_kwargs):
    inputs = keras.Input((1,))
    layer = Particles(**particle_kwargs)
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=optimizer)
    return model, layer


def run_steps(model, steps):
    """`steps` optimizer steps through `model.fit` (compiled as usual)."""
    x = np.zeros((steps, 1), "float32")
    model.fit(x, batch_size=1, epochs=1, verbose=0, shuffle=False)


def gradients(fn, variables):
    """Gradients of the scalar `fn()` with respect to Keras `variables`, as
    NumPy arrays (zeros for the variables `fn` does not depend on).

    `fn` may read layer losses (`layer.losses`): under JAX it runs in a
    stateless scope that collects them.
    """
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        def value(values):
            with keras.StatelessScope(list(zip(variables, values)),
                                      collect_losses=True):
                return fn()

        grads = jax.grad(value)([v.value for v in variables])
    elif backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = fn()
        grads = tape.gradient(loss, [v.value for v in variables],
                              unconnected_gradients="zero")
    else:
        import torch

        grads = torch.autograd.grad(fn(), [v.value for v in variables],
                                    allow_unused=True, materialize_grads=True)
    return [to_numpy(g) for g in grads]


def spectral_reference(g, dtype="float32"):
    """DSGD's spectral dual norm and unit dualizer of `g`, by the formulas
    `layer_norms` documents (`sum(sigma * phi)` and `U diag(phi) V^T`), in
    float64 from NumPy's SVD, with `tau` for a `g` of `dtype`."""
    u, s, vh = np.linalg.svd(np.asarray(g, "float64"), full_matrices=False)
    tau = layer_norms.ROUNDING_UNITS * np.finfo(dtype).eps * s[0] ** 2
    x = s / np.sqrt(s ** 2 + tau)
    phi = x * (15 - 10 * x ** 2 + 3 * x ** 4) / 8
    return np.sum(s * phi), (u * phi) @ vh
