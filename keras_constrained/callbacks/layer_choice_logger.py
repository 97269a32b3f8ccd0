"""Record which layer DSGD updated at every training step."""

import keras

from keras_constrained._validation import check_instance
from keras_constrained.optimizers.dsgd import DSGD


class LayerChoiceLogger(keras.callbacks.Callback):
    """Keeps the index of the layer each DSGD step moved, in `choices`.

    After every training batch it reads the optimizer's `chosen_layer` (-1
    for a step skipped for a non-finite gradient), appends it to `choices`
    (across `fit` calls) and adds it to the batch logs as `chosen_layer`.
    `layer_names` names the indices. A DSGD wrapped in
    `keras.optimizers.LossScaleOptimizer` (mixed precision) is found through
    its `inner_optimizer`; `fit` with any other optimizer raises a
    `TypeError`. With `steps_per_execution > 1` Keras
    calls batch hooks once per execution, so only every last choice is
    seen. Under JAX, reading the optimizer syncs the training state to the
    host after every batch, which costs little for the small models whose
    layer choices one plots.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(1)])
    model.compile(
        optimizer=keras_constrained.optimizers.DSGD(smoothness=2.0),
        loss="mse")
    logger = keras_constrained.callbacks.LayerChoiceLogger()
    model.fit(numpy.ones((32, 4)), numpy.ones((32, 1)), batch_size=8,
              epochs=2, callbacks=[logger], verbose=0)
    assert len(logger.choices) == 8
    print(logger.layer_names, logger.choices)
    ```
    """

    def __init__(self):
        super().__init__()
        self.choices = []

    @property
    def _dsgd(self):
        optimizer = self.model.optimizer
        return getattr(optimizer, "inner_optimizer", optimizer)

    @property
    def layer_names(self):
        return self._dsgd.layer_names

    def on_train_begin(self, logs=None):
        check_instance("model.optimizer", self._dsgd, DSGD,
                       "a keras_constrained.optimizers.DSGD (or one wrapped "
                       "in a keras.optimizers.LossScaleOptimizer)")

    def on_train_batch_end(self, batch, logs=None):
        chosen = int(self._dsgd.chosen_layer)
        self.choices.append(chosen)
        if logs is not None:
            logs["chosen_layer"] = chosen
