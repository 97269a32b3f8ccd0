"""Report how far constrained weights are from their sets, every epoch."""

import keras

from keras_constrained.constraints.base import ManifoldConstraint


class ConstraintMonitor(keras.callbacks.Callback):
    """Adds `max_violation` to the epoch logs (History, progress bar).

    The largest `violation` over every weight whose constraint is a
    `keras_constrained` constraint: about 1e-7 in float32 while the
    constraints hold, whatever the optimizer.

    Example:

    ```python
    history = model.fit(x, y, epochs=5,
                        callbacks=[keras_constrained.callbacks.ConstraintMonitor()])
    history.history["max_violation"]
    ```
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        violations = [float(w.constraint.violation(w))
                      for w in self.model.weights
                      if isinstance(w.constraint, ManifoldConstraint)]
        logs["max_violation"] = max(violations, default=0.0)
