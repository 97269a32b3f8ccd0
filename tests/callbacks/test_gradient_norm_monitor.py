import keras
import numpy as np

from keras_constrained.callbacks import GradientNormMonitor


def test_norms_are_the_gradient_norms_of_the_loss_per_kernel():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 2)).astype("float32")
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(4, name="a"),
                              keras.layers.Dense(2, name="b")])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    monitor = GradientNormMonitor(x, y)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[monitor])
    assert [n.rsplit("/", 1)[-1] for n in monitor.layer_names] == ["a", "b"]
    assert monitor.epochs == [0, 1, 2]
    # The last row, by hand: two linear layers and the mean squared error.
    (wa, ba), (wb, bb) = [[keras.ops.convert_to_numpy(v) for v in
                           layer.weights] for layer in model.layers]
    hidden = x @ wa + ba
    residual = hidden @ wb + bb - y
    d_out = 2 * residual / residual.size  # d mean(residual**2)
    grad_b = hidden.T @ d_out
    grad_a = x.T @ (d_out @ wb.T)
    np.testing.assert_allclose(
        monitor.norms[-1], [np.linalg.norm(grad_a), np.linalg.norm(grad_b)],
        rtol=1e-5)
    assert monitor.norms.shape == (3, 2)
    assert not np.allclose(monitor.norms[0], monitor.norms[-1])
