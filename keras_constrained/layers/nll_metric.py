"""The metric `bln_nll`: the negative log-likelihood (NLL) terms that a
model's `BatchlessNormalization` layers add to its training loss, logged
apart so that `loss - bln_nll` reads as the task loss.

The model, not the layer, updates the metric: Keras' JAX trainer runs the
layers inside `stateless_call`, which carries trainable and non-trainable
variables but not metric variables, so a metric updated in a layer's `call`
is lost there (and fails, keras-team/keras#21639). `Model.compute_loss` is
where Keras carries metric variables on every backend, and it sees the
model's `losses`, the NLL terms among them.
"""

import keras
from keras import ops

from keras_constrained.layers.batchless_normalization import (
    BatchlessNormalization)


class BatchlessNLLMixin:
    """Logs the NLL of a model's `BatchlessNormalization` layers as `bln_nll`.

    Mix it into a `keras.Model` subclass (before the Keras class) to add the
    metric `bln_nll`: in each step, the sum over all the model's
    `BatchlessNormalization` layers (nested ones included) of the NLL terms
    they added to the loss, averaged over the epoch with the batch sizes as
    weights, as Keras averages `loss`. So in every log `loss - bln_nll` is
    the loss without the NLL: the task loss, plus any other added loss or
    regularizer. The layers add their NLL in training only, so `evaluate()`
    (and `val_bln_nll`) reports 0: its `loss` holds no NLL.
    `BatchlessSequential` is the ready-made `keras.Sequential`.

    The loss itself, and with it training, is unchanged. Under
    `keras.distribution.DataParallel` (JAX) and `tf.distribute` strategies
    the metric is that of the global batch, like `loss`.

    Example:

    ```python
    class Model(keras_constrained.layers.BatchlessNLLMixin, keras.Model):
        pass

    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(2)(
        keras_constrained.layers.BatchlessNormalization()(inputs))
    model = Model(inputs, outputs)
    model.compile("sgd", "mse")
    history = model.fit(numpy.ones((4, 3)), numpy.zeros((4, 2)), verbose=0)
    sorted(history.history)  # ['bln_nll', 'loss']
    ```
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bln_nll_tracker = keras.metrics.Mean(name="bln_nll")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight,
                                    training=training)
        losses = self.losses  # the additional terms `loss` has just summed
        terms = [ops.cast(t, "float32")
                 for layer in self._flatten_layers(include_self=False)
                 if isinstance(layer, BatchlessNormalization)
                 for t in layer.nll_terms_in(losses)]
        nll = ops.sum(ops.stack(terms)) if terms else ops.zeros(())
        # Weighted by the batch size, as the trainers weight `loss`.
        first = next((i for i in keras.tree.flatten(x) if i is not None),
                     None)
        self.bln_nll_tracker.update_state(
            nll, sample_weight=None if first is None else ops.shape(first)[0])
        return loss


@keras.saving.register_keras_serializable(package="keras_constrained")
class BatchlessSequential(BatchlessNLLMixin, keras.Sequential):
    """A `keras.Sequential` that logs `bln_nll` (see `BatchlessNLLMixin`).

    Its `BatchlessNormalization` layers' NLL terms are logged apart from the
    loss that holds them, in `fit`'s history and progress bar, so that
    `loss - bln_nll` is the task loss; everything else is `keras.Sequential`
    (same arguments, same training, same saving).

    Example:

    ```python
    model = keras_constrained.layers.BatchlessSequential([
        keras.Input((3,)),
        keras_constrained.layers.BatchlessNormalization(),
        keras.layers.Dense(2),
    ])
    model.compile("sgd", "mse")
    x, y = numpy.random.normal(size=(8, 3)), numpy.zeros((8, 2))
    logs = model.fit(x, y, batch_size=4, verbose=0).history
    task_loss = logs["loss"][0] - logs["bln_nll"][0]
    ```
    """
