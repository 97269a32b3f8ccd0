"""Stock optimizers' moving averages, written at the end of `fit`, put back
on the constraints' sets."""

import keras
import numpy as np
import pytest
from helpers import to_numpy

from keras_constrained import constraints
from keras_constrained.callbacks import ProjectOntoSets


class LastAverages(keras.callbacks.Callback):
    """The optimizer's moving averages after the last step."""

    def on_train_batch_end(self, batch, logs=None):
        self.averages = [to_numpy(a).copy() for a in
                         self.model.optimizer._model_variables_moving_average]


@pytest.mark.parametrize("constraint", [constraints.Orthogonal(),
                                        constraints.Sphere()],
                         ids=["orthogonal", "sphere"])
@pytest.mark.parametrize("project", [False, True])
def test_the_averages_land_on_the_set(constraint, project):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = rng.normal(size=(64, 6)).astype("float32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(
        6, use_bias=False, kernel_constraint=constraint)])
    model.compile(keras.optimizers.Adam(0.05, use_ema=True,
                                        ema_momentum=0.9), "mse")
    averages = LastAverages()
    callbacks = [averages] + ([ProjectOntoSets()] if project else [])
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=callbacks)
    kernel = model.layers[0].kernel
    average = averages.averages[0]
    violation = float(constraint.violation(kernel))
    if not project:  # what Keras leaves: the average itself, off the set
        np.testing.assert_allclose(to_numpy(kernel), average, atol=1e-6)
        assert violation > 1e-2
        return
    np.testing.assert_allclose(to_numpy(kernel),
                               to_numpy(constraint(average)), atol=1e-5)
    assert violation < 1e-5
