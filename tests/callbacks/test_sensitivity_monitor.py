import keras
import numpy as np
import pytest
from helpers import to_numpy

from keras_constrained.callbacks import SensitivityMonitor
from keras_constrained.layers import Hamiltonian
from keras_constrained.layers import sensitivity_norms


def model_with_a_trained_prefix():
    """Dense -> H2-DNN -> Dense: the H-DNN's inputs move in training."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="embed")(inputs)
    hidden = Hamiltonian(depth=4, step_size=0.5, name="hdnn")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


def test_records_sensitivity_norms_at_the_layers_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = model_with_a_trained_prefix()
    monitor = SensitivityMonitor(x[:8])
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0,
                        callbacks=[monitor])
    layer = model.get_layer("hdnn")
    direct = to_numpy(sensitivity_norms(
        layer, model.get_layer("embed")(x[:8])))
    assert monitor.epochs == [0, 1, 2, 3]
    assert monitor.norms.shape == (4, 8, 4)
    np.testing.assert_allclose(monitor.norms[-1], direct, rtol=1e-5)
    np.testing.assert_allclose(history.history["sensitivity_min"],
                               monitor.norms[1:].min(axis=(1, 2)))
    np.testing.assert_allclose(history.history["sensitivity_max"],
                               monitor.norms[1:].max(axis=(1, 2)))
    # Semi-implicit: never below 1, at any weights seen in training.
    assert monitor.norms.min() >= 1 - 1e-5
    assert not np.allclose(monitor.norms[0], monitor.norms[-1])


def test_every_k_epochs_and_per_position_samples():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((3, 3, 1)), keras.layers.Conv2D(4, 2, padding="same"),
        Hamiltonian(depth=2, step_size=0.5), keras.layers.Flatten(),
        keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(1).normal(size=(10, 3, 3, 1))
    monitor = SensitivityMonitor(x[:2], every=2)
    history = model.fit(x, x[:, 0, 0], epochs=3, verbose=0,
                        callbacks=[monitor])
    assert monitor.epochs == [0, 2]
    assert monitor.norms.shape == (2, 2 * 9, 2)  # every pixel is a sample
    assert history.history["sensitivity_min"] == [monitor.norms[1].min()]
    assert history.history["sensitivity_max"] == [monitor.norms[1].max()]


def test_logs_only_the_epochs_it_measures():
    """every=k: one log entry per measurement, none a NaN placeholder; the
    i-th belongs to epoch `monitor.epochs[i + 1]`."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    model = model_with_a_trained_prefix()
    monitor = SensitivityMonitor(x[:8], every=3)
    history = model.fit(x, y, batch_size=16, epochs=7, verbose=0,
                        callbacks=[monitor])
    assert monitor.epochs == [0, 3, 6]
    logged_min = history.history["sensitivity_min"]
    logged_max = history.history["sensitivity_max"]
    assert not np.isnan(logged_min).any() and not np.isnan(logged_max).any()
    np.testing.assert_array_equal(logged_min,
                                  monitor.norms[1:].min(axis=(1, 2)))
    np.testing.assert_array_equal(logged_max,
                                  monitor.norms[1:].max(axis=(1, 2)))
    assert len(history.history["loss"]) == 7


def test_picks_the_layer_by_name_and_rejects_bad_arguments():
    inputs = keras.Input((4,))
    first = Hamiltonian(depth=2, step_size=0.1, name="first")(inputs)
    outputs = Hamiltonian(depth=3, step_size=0.1, name="second")(first)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((4, 4), "float32")
    monitor = SensitivityMonitor(x, layer="second")
    model.fit(x, x, epochs=1, verbose=0, callbacks=[monitor])
    assert monitor.norms.shape == (2, 4, 3)
    with pytest.raises(ValueError, match="layer"):
        model.fit(x, x, epochs=1, verbose=0,
                  callbacks=[SensitivityMonitor(x)])
    with pytest.raises(ValueError, match="every"):
        SensitivityMonitor(x, every=0)
