"""The expected calibration error (ECE) of a classifier, as a Keras metric."""

import keras
from keras import ops

from keras_constrained._validation import check_bool
from keras_constrained._validation import check_integer
from keras_constrained.metrics._calibration import bin_statistics
from keras_constrained.metrics._calibration import calibration_error


@keras.saving.register_keras_serializable(package="keras_constrained")
class ExpectedCalibrationError(keras.metrics.Metric):
    """The binned expected calibration error of multi-class predictions.

    Each example's confidence is its largest predicted probability and its
    prediction the class with that probability (the first on ties). The
    examples fall into `num_bins` equal-width bins of [0, 1] by confidence,
    bin `min(floor(confidence * num_bins), num_bins - 1)` (so bin `b` holds
    `[b / num_bins, (b + 1) / num_bins)` and the last one also holds 1), and

        ECE = sum_b n_b / N * |accuracy_b - mean confidence_b|

    over the non-empty bins, with `n_b` examples in bin `b` out of `N`. The
    state is the per-bin count, sum of confidences and sum of correctness,
    so the result after several batches is exactly the ECE of all of them
    together. With `sample_weight`, every count and sum is weighted.
    `keras_constrained.metrics.reliability_curve` and
    `plot_reliability_diagram` bin the same way.

    Args:
        num_bins: int >= 1, the number of bins.
        from_logits: whether `y_pred` holds logits (a softmax makes them
            probabilities) rather than probabilities.
        name: the metric's name in the logs.
        dtype: the dtype of the state and the result (`float32` by default).

    The metric's `update_state(y_true, y_pred, sample_weight=None)` takes
    integer labels `y_true` of shape `(batch,)` or `(batch, 1)`, and
    `y_pred` of shape `(batch, classes)`.

    Example:

    ```python
    ece = keras_constrained.metrics.ExpectedCalibrationError(num_bins=10)
    # Confidence 0.9 in bin 9, right 2 times out of 4: |0.5 - 0.9| = 0.4.
    ece.update_state([0, 0, 1, 1], [[0.9, 0.1]] * 4)
    assert abs(float(ece.result()) - 0.4) < 1e-6
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True),
                  metrics=[keras_constrained.metrics.ExpectedCalibrationError(
                      from_logits=True)])
    logs = model.evaluate(numpy.ones((8, 4)), numpy.zeros(8), verbose=0,
                          return_dict=True)
    assert 0 <= logs["ece"] <= 1
    ```
    """

    def __init__(self, num_bins=15, from_logits=False, name="ece",
                 dtype=None):
        num_bins = check_integer("num_bins", num_bins, 1)
        from_logits = check_bool("from_logits", from_logits)
        super().__init__(name=name, dtype=dtype)
        self.num_bins = num_bins
        self.from_logits = from_logits
        self._direction = "down"
        self.counts, self.confidence_sums, self.correct_sums = (
            self.add_variable(shape=(num_bins,),
                              initializer=keras.initializers.Zeros(),
                              dtype=self.dtype, name=state)
            for state in ("counts", "confidence_sums", "correct_sums"))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts, confidence_sums, correct_sums = bin_statistics(
            y_true, y_pred, self.num_bins, self.from_logits, self.dtype,
            sample_weight)
        self.counts.assign_add(counts)
        self.confidence_sums.assign_add(confidence_sums)
        self.correct_sums.assign_add(correct_sums)

    def result(self):
        return calibration_error(self.counts, self.confidence_sums,
                                 self.correct_sums)

    def reset_state(self):
        for variable in (self.counts, self.confidence_sums,
                         self.correct_sums):
            variable.assign(ops.zeros((self.num_bins,), self.dtype))

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins,
                "from_logits": self.from_logits}
