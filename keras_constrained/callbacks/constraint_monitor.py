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
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(
            3, kernel_constraint=keras_constrained.constraints.Orthogonal())])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(
        numpy.ones((32, 4)), numpy.zeros((32, 3)), epochs=2, verbose=0,
        callbacks=[keras_constrained.callbacks.ConstraintMonitor()])
    assert max(history.history["max_violation"]) < 1e-5
    ```
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        # Through NumPy: a torch violation computed from a weight still
        # requires grad, and `float` of it warns.
        violations = [float(keras.ops.convert_to_numpy(
                          w.constraint.violation(w)))
                      for w in self.model.weights
                      if isinstance(w.constraint, ManifoldConstraint)]
        logs["max_violation"] = max(violations, default=0.0)
