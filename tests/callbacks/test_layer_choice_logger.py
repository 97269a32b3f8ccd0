import keras
import numpy as np

from keras_constrained.callbacks import LayerChoiceLogger
from keras_constrained.optimizers import DSGD


class MovedLayer(keras.callbacks.Callback):
    """Which Dense layer's weights each step changed, and the logged
    choice (it runs after the logger, so it sees the added log entry)."""

    def __init__(self):
        super().__init__()
        self.moved, self.logged = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.before = self.model.get_weights()

    def on_train_batch_end(self, batch, logs=None):
        changed = [i // 2 for i, (a, b) in enumerate(
            zip(self.before, self.model.get_weights())) if np.any(a != b)]
        self.moved.append(sorted(set(changed)))
        self.logged.append(logs["chosen_layer"])


def tanh_model():
    return keras.Sequential([keras.Input((3,)),
                             keras.layers.Dense(4, activation="tanh"),
                             keras.layers.Dense(1)])


def test_records_the_chosen_layer_of_every_step_across_fits():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))
    model = tanh_model()
    optimizer = DSGD(smoothness=3.0, norm="frobenius")
    model.compile(optimizer, "mse")
    logger, moved = LayerChoiceLogger(), MovedLayer()
    for _ in range(2):
        model.fit(x, y, batch_size=10, epochs=2, verbose=0,
                  callbacks=[logger, moved])
    assert len(logger.choices) == 16
    assert logger.choices == moved.logged
    assert [[c] for c in logger.choices] == moved.moved
    assert logger.layer_names == optimizer.layer_names


def test_finds_dsgd_inside_a_loss_scale_optimizer():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(24, 3)), rng.normal(size=(24, 1))
    model = tanh_model()
    dsgd = DSGD(smoothness=3.0, norm="frobenius")
    model.compile(keras.optimizers.LossScaleOptimizer(dsgd), "mse")
    logger, moved = LayerChoiceLogger(), MovedLayer()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0,
              callbacks=[logger, moved])
    assert len(logger.choices) == 6
    assert [[c] for c in logger.choices] == moved.moved
    assert logger.layer_names == dsgd.layer_names
