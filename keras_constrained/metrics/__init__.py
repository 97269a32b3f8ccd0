"""Calibration metrics for classifiers.

- `ExpectedCalibrationError`: the binned ECE, a stateful metric.
- `BrierScore`: the (multi-class, or binary) Brier score.
- `reliability_curve` and `plot_reliability_diagram`: accuracy against
  confidence per bin, binned exactly as the ECE.

The negative log-likelihood (NLL) of the labels needs no class here: it is
Keras' own `keras.metrics.SparseCategoricalCrossentropy(from_logits=...)`,
the mean over examples of `-log p[y_true]`. With logits it is exact (a log
softmax). With probabilities, Keras divides each row by its sum and clips
it to `[1e-7, 1 - 1e-7]` (`keras.config.epsilon()`) before the log, so it
equals the exact NLL whenever every true-class probability is at least
1e-7, and counts a smaller one (a 0 included) as 1e-7, a loss of about
16.1 instead of infinity.
"""

from keras_constrained.metrics.brier_score import BrierScore
from keras_constrained.metrics.expected_calibration_error import (
    ExpectedCalibrationError,
)
from keras_constrained.metrics.reliability import plot_reliability_diagram
from keras_constrained.metrics.reliability import reliability_curve

__all__ = ["BrierScore", "ExpectedCalibrationError",
           "plot_reliability_diagram", "reliability_curve"]
