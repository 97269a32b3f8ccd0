"""Reliability curves and diagrams: accuracy against confidence, per bin."""

import numpy as np
from keras import ops

from keras_constrained._validation import check_bool
from keras_constrained._validation import check_integer
from keras_constrained.metrics._calibration import bin_statistics
from keras_constrained.metrics._calibration import calibration_error


def _statistics(y_true, y_pred, num_bins, from_logits):
    """The bin statistics as NumPy arrays, and the ECE, exactly as
    `ExpectedCalibrationError` computes them in float32."""
    num_bins = check_integer("num_bins", num_bins, 1)
    from_logits = check_bool("from_logits", from_logits)
    y_pred = np.asarray(y_pred, dtype="float32")
    y_true = np.asarray(y_true)
    if y_pred.ndim != 2 or y_true.size != y_pred.shape[0]:
        raise ValueError(
            "`y_pred` must have shape (examples, classes) and `y_true` hold "
            "one integer label per example; received y_pred of shape "
            f"{y_pred.shape} and y_true of shape {y_true.shape}.")
    statistics = bin_statistics(y_true, y_pred, num_bins, from_logits,
                                "float32")
    ece = float(ops.convert_to_numpy(calibration_error(*statistics)))
    return [np.asarray(ops.convert_to_numpy(s)) for s in statistics], ece


def reliability_curve(y_true, y_pred, num_bins=15, from_logits=False):
    """The mean confidence, accuracy and number of examples in each bin.

    The bins are those of `ExpectedCalibrationError`: `num_bins` equal-width
    bins of [0, 1], an example in bin `min(floor(confidence * num_bins),
    num_bins - 1)` by its confidence (its largest probability); its
    prediction is the class with that probability. Bin `b` has center
    `(b + 0.5) / num_bins`. Then

        ECE = nansum(count * abs(accuracy - confidence)) / sum(count).

    Args:
        y_true: integer labels, shape `(examples,)` or `(examples, 1)`.
        y_pred: probabilities or logits, shape `(examples, classes)`.
        num_bins: int >= 1, the number of bins.
        from_logits: whether `y_pred` holds logits.

    Returns:
        Three NumPy arrays of shape `(num_bins,)`: the mean confidence and
        the accuracy in each bin (float32, NaN for an empty bin) and the
        number of examples in it (int64).

    Example:

    ```python
    confidence, accuracy, count = (
        keras_constrained.metrics.reliability_curve(
            [0, 0, 1, 1], [[0.9, 0.1]] * 4, num_bins=10))
    assert count.tolist() == [0] * 9 + [4]
    assert abs(confidence[9] - 0.9) < 1e-6 and accuracy[9] == 0.5
    ```
    """
    (counts, confidence_sums, correct_sums), _ = _statistics(
        y_true, y_pred, num_bins, from_logits)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.where(counts > 0, confidence_sums / counts, np.nan)
        accuracy = np.where(counts > 0, correct_sums / counts, np.nan)
    return (confidence.astype("float32"), accuracy.astype("float32"),
            np.rint(counts).astype("int64"))


def plot_reliability_diagram(y_true, y_pred, num_bins=15, from_logits=False,
                             ax=None):
    """Draws the reliability diagram: accuracy per bin against the diagonal.

    One bar per bin of `reliability_curve` (its height the bin's accuracy,
    none for an empty bin), the mean confidence of each bin as a dot, and
    the diagonal of perfect calibration; the title gives the ECE, the value
    `ExpectedCalibrationError(num_bins, from_logits)` reports on the same
    data. Needs matplotlib (`pip install matplotlib`), which
    keras-constrained does not depend on.

    Args:
        y_true: integer labels, shape `(examples,)` or `(examples, 1)`.
        y_pred: probabilities or logits, shape `(examples, classes)`.
        num_bins: int >= 1, the number of bins.
        from_logits: whether `y_pred` holds logits.
        ax: the matplotlib `Axes` to draw in; a new figure's by default.

    Returns:
        The `Axes`.

    Example:

    ```python
    rng = numpy.random.default_rng(0)
    logits = rng.normal(size=(200, 3))
    labels = rng.integers(0, 3, size=200)
    ax = keras_constrained.metrics.plot_reliability_diagram(
        labels, logits, num_bins=10, from_logits=True)
    assert ax.get_title().startswith("ECE = ")
    # ax.figure.savefig("reliability.png")
    ```
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "`plot_reliability_diagram` needs matplotlib, which is not "
            "installed: `pip install matplotlib`.") from error
    (counts, confidence_sums, correct_sums), ece = _statistics(
        y_true, y_pred, num_bins, from_logits)
    filled = counts > 0
    confidence = confidence_sums[filled] / counts[filled]
    accuracy = np.zeros(num_bins)
    accuracy[filled] = correct_sums[filled] / counts[filled]
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    ax.bar(edges[:-1], accuracy, width=1.0 / num_bins, align="edge",
           edgecolor="black", alpha=0.8, label="accuracy")
    ax.plot(confidence, accuracy[filled], "o", color="tab:red",
            markersize=4, label="mean confidence")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"ECE = {ece:.4f}")
    ax.legend(loc="upper left")
    return ax
