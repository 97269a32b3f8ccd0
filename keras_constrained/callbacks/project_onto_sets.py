"""Put constrained weights back on their sets when training ends."""

import keras

from keras_constrained.constraints.base import project_onto_sets


class ProjectOntoSets(keras.callbacks.Callback):
    """Projects every weight that has a constraint when `fit` ends.

    For Keras' own optimizers with `use_ema=True`: at the end of `fit` they
    overwrite the weights with their moving averages
    (`finalize_variable_values`) and, unlike after each step, do not apply
    the constraints; an average of points of a curved set (`Orthogonal`,
    `Sphere`) lies off it (by 0.2 in `violation` for Adam on a small Dense
    layer). This callback runs after that overwrite and assigns each such
    weight its constraint's projection, as Keras does after every step. The
    optimizers of this package do so themselves and need no callback.

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        3, kernel_constraint=keras_constrained.constraints.Orthogonal())])
    model.compile(keras.optimizers.Adam(0.05, use_ema=True), loss="mse")
    model.fit(numpy.ones((32, 4)), numpy.zeros((32, 3)), verbose=0,
              callbacks=[keras_constrained.callbacks.ProjectOntoSets()])
    kernel = model.layers[0].kernel
    assert float(kernel.constraint.violation(kernel)) < 1e-5
    ```
    """

    def on_train_end(self, logs=None):
        project_onto_sets(self.model.trainable_variables)
