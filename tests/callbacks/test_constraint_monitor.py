import keras
import numpy as np
import pytest

from keras_constrained import constraints
from keras_constrained.callbacks import ConstraintMonitor
from keras_constrained.optimizers import UnderdampedLangevin


def test_logs_the_largest_violation_each_epoch():
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(4, kernel_constraint=constraints.Orthogonal()),
        keras.layers.Dense(3, kernel_constraint=constraints.Sphere(2.0)),
    ])
    model.compile(UnderdampedLangevin(0.1, temperature=1e-3, seed=0), "mse")
    rng = np.random.default_rng(0)
    history = model.fit(rng.normal(size=(32, 6)), rng.normal(size=(32, 3)),
                        epochs=3, batch_size=8, verbose=0,
                        callbacks=[ConstraintMonitor()])
    violations = history.history["max_violation"]
    assert len(violations) == 3
    assert 0.0 <= max(violations) <= 1e-5
    # It reports the worst kernel: push one off its set and look again.
    kernel = model.layers[1].kernel
    kernel.assign(kernel * 1.1)
    logs = {}
    monitor = ConstraintMonitor()
    monitor.set_model(model)
    monitor.on_epoch_end(0, logs)
    assert logs["max_violation"] == pytest.approx(1.1**2 - 1, abs=1e-5)
