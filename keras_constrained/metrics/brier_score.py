"""The Brier score of probabilistic predictions, as a Keras metric."""

import keras
from keras import ops

from keras_constrained._validation import check_bool
from keras_constrained.metrics._calibration import class_probabilities
from keras_constrained.metrics._calibration import integer_labels


def brier_score(y_true, y_pred, from_logits=False):
    """The Brier score of each example: `sum_k (p_k - onehot_k)**2` for
    `y_pred` of shape `(batch, classes)`, `(p - y)**2` for a positive-class
    probability `y_pred` of shape `(batch,)` or `(batch, 1)` (see
    `BrierScore`). Returns a `(batch,)` tensor."""
    y_pred = ops.convert_to_tensor(y_pred)
    dtype = (y_pred.dtype if "float" in keras.backend.standardize_dtype(
        y_pred.dtype) else keras.config.floatx())
    if len(y_pred.shape) == 1 or (len(y_pred.shape) == 2
                                  and y_pred.shape[-1] == 1):
        probability = ops.reshape(ops.cast(y_pred, dtype), (-1,))
        if from_logits:
            probability = ops.sigmoid(probability)
        label = ops.reshape(ops.cast(y_true, dtype), (-1,))
        return ops.square(probability - label)
    probabilities = class_probabilities(y_pred, from_logits, dtype)
    labels = integer_labels(y_true, probabilities.shape)
    one_hot = ops.one_hot(labels, probabilities.shape[-1], dtype=dtype)
    return ops.sum(ops.square(probabilities - one_hot), axis=-1)


@keras.saving.register_keras_serializable(package="keras_constrained")
class BrierScore(keras.metrics.MeanMetricWrapper):
    """The Brier score: the mean squared error of predicted probabilities.

    For `y_pred` of shape `(batch, classes)` and integer labels `y_true` of
    shape `(batch,)` or `(batch, 1)`, the multi-class Brier score

        mean over examples of sum_k (p_k - onehot(y_true)_k)**2,

    between 0 (certain and right) and 2. For binary labels with
    two-column probabilities this is twice scikit-learn's
    `brier_score_loss` of the positive-class probability. For `y_pred` of
    shape `(batch,)` or `(batch, 1)`, it is taken as the probability of the
    positive class and the score is `mean (p - y_true)**2` with labels 0 or
    1, equal to `sklearn.metrics.brier_score_loss`. `sample_weight` weights
    the mean over examples.

    Args:
        from_logits: whether `y_pred` holds logits (a softmax, or a sigmoid
            for the single-column form, makes them probabilities).
        name: the metric's name in the logs.
        dtype: the dtype of the state and the result (`float32` by default).

    Example:

    ```python
    brier = keras_constrained.metrics.BrierScore()
    brier.update_state([0, 1], [[0.8, 0.2], [0.4, 0.6]])
    # (0.2**2 + 0.2**2 + 0.4**2 + 0.4**2) / 2 = 0.2
    assert abs(float(brier.result()) - 0.2) < 1e-6
    binary = keras_constrained.metrics.BrierScore()
    binary.update_state([0, 1], [0.2, 0.6])  # (0.2**2 + 0.4**2) / 2 = 0.1
    assert abs(float(binary.result()) - 0.1) < 1e-6
    ```
    """

    def __init__(self, from_logits=False, name="brier_score", dtype=None):
        from_logits = check_bool("from_logits", from_logits)
        super().__init__(fn=brier_score, name=name, dtype=dtype,
                         from_logits=from_logits)
        self.from_logits = from_logits
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype,
                "from_logits": self.from_logits}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
