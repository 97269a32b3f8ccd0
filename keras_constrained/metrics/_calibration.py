"""The binning that `ExpectedCalibrationError` and `reliability_curve` share.

One implementation, so the metric and the diagram agree to the last bit:
the confidence of an example is its largest probability, its prediction the
class with that probability (the first on ties), and it falls into the
equal-width bin `min(floor(confidence * num_bins), num_bins - 1)` of
[0, 1] (bin `b` holds `[b / num_bins, (b + 1) / num_bins)`, the last one
also holds 1), the product computed in the metric's dtype.
"""

from keras import ops


def integer_labels(y_true, y_pred_shape):
    """`y_true` of shape `(batch,)` or `(batch, 1)` as int32 `(batch,)`."""
    y_true = ops.convert_to_tensor(y_true)
    shape = tuple(y_true.shape)
    if len(shape) > 2 or (len(shape) == 2 and shape[-1] not in (1, None)):
        raise ValueError(
            "`y_true` must hold integer class labels of shape (batch,) or "
            f"(batch, 1); received y_true of shape {shape} (with y_pred of "
            f"shape {tuple(y_pred_shape)}; one-hot labels are not accepted).")
    return ops.reshape(ops.cast(y_true, "int32"), (-1,))


def class_probabilities(y_pred, from_logits, dtype):
    """`y_pred` of shape `(batch, classes)` as probabilities in `dtype`."""
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), dtype)
    if len(y_pred.shape) != 2:
        raise ValueError(
            "`y_pred` must be probabilities or logits of shape (batch, "
            f"classes); received y_pred of shape {tuple(y_pred.shape)}.")
    return ops.softmax(y_pred, axis=-1) if from_logits else y_pred


def bin_statistics(y_true, y_pred, num_bins, from_logits, dtype,
                   sample_weight=None):
    """Per bin: the (weighted) count of examples, the sum of their
    confidences and the sum of their correctness (1 if right, else 0), as
    three `(num_bins,)` tensors of `dtype`. Summing these over batches gives
    the statistics of all the data."""
    probabilities = class_probabilities(y_pred, from_logits, dtype)
    labels = integer_labels(y_true, probabilities.shape)
    confidence = ops.max(probabilities, axis=-1)
    predicted = ops.cast(ops.argmax(probabilities, axis=-1), "int32")
    correct = ops.cast(ops.equal(predicted, labels), dtype)
    bins = ops.minimum(ops.cast(ops.floor(confidence * num_bins), "int32"),
                       num_bins - 1)
    membership = ops.one_hot(bins, num_bins, dtype=dtype)  # (batch, bins)
    if sample_weight is not None:
        weight = ops.reshape(ops.cast(sample_weight, dtype), (-1, 1))
        membership = membership * weight
    counts = ops.sum(membership, axis=0)
    confidence_sums = ops.sum(membership * confidence[:, None], axis=0)
    correct_sums = ops.sum(membership * correct[:, None], axis=0)
    return counts, confidence_sums, correct_sums


def calibration_error(counts, confidence_sums, correct_sums):
    """The ECE `sum_b n_b / N * |acc_b - conf_b|` from the bin statistics,
    which is `sum_b |correct_b - confidence_b| / N` (0 when `N` is 0)."""
    return ops.divide_no_nan(
        ops.sum(ops.abs(correct_sums - confidence_sums)), ops.sum(counts))
