"""DSGD: the greedy single-layer step, checked against NumPy."""

import warnings

import keras
import numpy as np
import pytest
from helpers import save_and_reload
from helpers import spectral_reference
from helpers import to_numpy

from keras_constrained.optimizers import DSGD
from keras_constrained.optimizers import dsgd

LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def tanh_mlp(widths=(5, 6, 4, 1)):
    return keras.Sequential(
        [keras.Input((widths[0],))]
        + [keras.layers.Dense(w, activation="tanh") for w in widths[1:-1]]
        + [keras.layers.Dense(widths[-1])])


def regression_data(n=64, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, size=(n, d)).astype("float32"),
            rng.normal(size=(n, 1)).astype("float32"))


def numpy_gradients(weights, x, y):
    """Gradients of the mean squared error of a tanh MLP, per layer matrix
    `[kernel; bias]`, by backpropagation in float64."""
    matrices = [np.vstack([k, b[None]]).astype("float64")
                for k, b in zip(weights[::2], weights[1::2])]
    inputs, a = [], x.astype("float64")
    for i, m in enumerate(matrices):
        inputs.append(np.hstack([a, np.ones((len(a), 1))]))
        z = inputs[-1] @ m
        a = np.tanh(z) if i < len(matrices) - 1 else z
    delta = 2 * (a - y) / a.size
    grads = [None] * len(matrices)
    for i in reversed(range(len(matrices))):
        grads[i] = inputs[i].T @ delta
        if i:
            delta = (delta @ matrices[i][:-1].T) * (1 - inputs[i][:, :-1]**2)
    return matrices, grads



def numpy_dsgd_step(weights, x, y, smoothness, norm, scale, alpha=1.0):
    """The chosen layer and the new layer matrices, as `DSGD` documents."""
    matrices, grads = numpy_gradients(weights, x, y)
    if norm == "frobenius":
        duals = [np.linalg.norm(g) for g in grads]
        units = [g / np.linalg.norm(g) for g in grads]
    else:
        duals, units = zip(*[spectral_reference(g) for g in grads])
    scales = np.ones(len(grads))
    if scale == "architecture":
        growth = []
        for m in matrices[1:]:
            # One warm-started power iteration from the initial ones vector.
            v = np.ones(m.shape[1]) / np.sqrt(m.shape[1])
            v = m.T @ (m @ v)
            unit = v / np.linalg.norm(v)
            growth.append(max(1.0, np.linalg.norm(m @ unit)))
        later = np.cumprod((growth + [1.0])[::-1])[::-1]
        scales = np.sqrt([m.shape[0] for m in matrices]) * later
    smoothness = np.broadcast_to(smoothness, len(grads))
    scores = (np.array(duals) / scales) ** 2 / smoothness
    k = int(np.argmax(scores))
    new = list(matrices)
    new[k] = matrices[k] - alpha * duals[k] / (smoothness[k] * scales[k]**2) \
        * units[k]
    return k, new


def layer_matrices(model):
    weights = [to_numpy(w) for w in model.trainable_weights]
    return [np.vstack([k, b[None]])
            for k, b in zip(weights[::2], weights[1::2])]


@pytest.mark.parametrize("norm, scale, smoothness", [
    ("frobenius", "none", 3.0),
    ("spectral", "none", [2.0, 5.0, 1.0]),
    ("spectral", "architecture", 0.1),
    ("frobenius", "architecture", 0.2),
])
def test_one_step_matches_numpy(norm, scale, smoothness):
    x, y = regression_data()
    model = tanh_mlp()
    weights = [to_numpy(w) for w in model.trainable_weights]
    optimizer = DSGD(0.7, smoothness=smoothness, norm=norm, scale=scale)
    model.compile(optimizer, "mse")
    model.train_on_batch(x, y)
    k, expected = numpy_dsgd_step(weights, x, y, smoothness, norm, scale,
                                  alpha=0.7)
    assert int(optimizer.chosen_layer) == k
    matrices, grads = numpy_gradients(weights, x, y)
    for i, (got, want) in enumerate(zip(layer_matrices(model), expected)):
        if i != k or norm == "frobenius":
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
            continue
        # The spectral step, from the float32 Gram matrix: its weak singular
        # directions carry rounding of about `eps (sigma_max / gap)^2`
        # (here 1e-3: two singular values near 0.01 sigma_max), too weak to
        # change what the descent bound uses, `<G, step> = size * d` and
        # `||step||_2 <= size`.
        step, exact = matrices[k] - got, matrices[k] - want
        size = np.linalg.norm(exact, 2)
        np.testing.assert_allclose(np.sum(step * grads[k]),
                                   np.sum(exact * grads[k]), rtol=1e-4)
        assert np.linalg.norm(step, 2) <= size * (1 + 1e-4)
        np.testing.assert_allclose(step, exact, atol=1e-3 * size)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_one_frobenius_layer_is_gradient_descent_with_rate_alpha_over_l(
        alpha):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(48, 6)).astype("float32"), rng.integers(0, 3, 48)
    models = [keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
              for _ in range(2)]
    models[1].set_weights(models[0].get_weights())
    models[0].compile(DSGD(alpha, smoothness=4.0, norm="frobenius"), LOGITS)
    models[1].compile(keras.optimizers.SGD(alpha / 4.0), LOGITS)
    for i in range(6):  # mini-batches of 8
        for model in models:
            model.train_on_batch(x[8 * i:8 * i + 8], y[8 * i:8 * i + 8])
        for a, b in zip(*[m.get_weights() for m in models]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("norm", ["frobenius", "spectral"])
def test_exactly_the_chosen_layer_moves_at_every_step(norm):
    x, y = regression_data()
    model = tanh_mlp()
    optimizer = DSGD(smoothness=5.0, norm=norm)
    model.compile(optimizer, "mse")
    for _ in range(8):
        before = layer_matrices(model)
        model.train_on_batch(x, y)
        moved = [i for i, (a, b) in enumerate(zip(before,
                                                   layer_matrices(model)))
                 if np.any(a != b)]
        assert moved == [int(optimizer.chosen_layer)]


@pytest.mark.parametrize("norm, smoothness", [("spectral", 0.1),
                                              ("frobenius", 0.1)])
def test_full_batch_loss_decreases_monotonically(norm, smoothness):
    # 20-64-64-1 tanh regression from the research notes' sanity run.
    x, y = regression_data(n=256, d=20, seed=1)
    model = tanh_mlp((20, 64, 64, 1))
    model.compile(DSGD(smoothness=smoothness, norm=norm,
                       scale="architecture"), "mse")
    # Each full-batch step returns the loss before it.
    losses = [float(model.train_on_batch(x, y)) for _ in range(40)]
    assert np.all(np.diff(losses) <= 1e-7 * losses[0]), losses
    assert losses[-1] < 0.8 * losses[0]


def test_with_one_global_l_the_choice_does_not_depend_on_l():
    x, y = regression_data(seed=3)
    model = tanh_mlp()
    weights = model.get_weights()
    choices = []
    for smoothness in [0.01, 300.0]:
        model.set_weights(weights)
        optimizer = DSGD(smoothness=smoothness, scale="architecture")
        model.compile(optimizer, "mse")
        model.train_on_batch(x, y)
        choices.append(int(optimizer.chosen_layer))
    assert choices[0] == choices[1]


def test_layers_are_grouped_by_path_or_as_given():
    model = tanh_mlp()
    optimizer = DSGD()
    optimizer.build(model.trainable_variables)
    names = [layer.name for layer in model.layers]
    assert [n.split("/")[-1] for n in optimizer.layer_names] == names
    paths = [v.path for v in model.trainable_variables]
    # Both kernels of the first two layers as one group, their biases
    # left to their layers.
    grouped = DSGD(groups=[[paths[0], paths[2]]], norm="frobenius")
    grouped.build(model.trainable_variables)
    assert len(grouped.layer_names) == 4
    model.compile(grouped, "mse")
    before = [to_numpy(w) for w in model.trainable_weights]
    model.train_on_batch(*regression_data())
    moved = [i for i, (a, w) in enumerate(zip(before,
                                              model.trainable_weights))
             if np.any(a != to_numpy(w))]
    assert moved in ([0, 2], [1], [3], [4, 5])


@pytest.mark.parametrize("smoothness", [[1.0, 2.0, 3.0], "adaptive"])
def test_all_state_exists_after_build_and_survives_save_and_load(
        tmp_path, smoothness):
    x, y = regression_data()
    model = tanh_mlp()
    optimizer = DSGD(0.5, smoothness=smoothness, scale="architecture")
    optimizer.build(model.trainable_variables)
    count = len(optimizer.variables)
    model.compile(optimizer, "mse")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert len(optimizer.variables) == count
    loaded = save_and_reload(model, tmp_path)
    assert loaded.optimizer.get_config() == optimizer.get_config()
    for a, b in zip(optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    for m in (model, loaded):
        m.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    if smoothness == "adaptive":
        # Every layer moved, so every `L_i` is measured.
        assert np.all(to_numpy(loaded.optimizer.layer_smoothness) > 0)


def test_a_non_finite_gradient_skips_the_step():
    x, y = regression_data()
    model = tanh_mlp()
    optimizer = DSGD()
    model.compile(optimizer, "mse")
    before = model.get_weights()
    x[3, 1] = np.nan
    model.train_on_batch(x, y)
    assert int(optimizer.chosen_layer) == -1
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_failed_eigendecomposition_skips_the_step(monkeypatch):
    # JAX's eigh returns NaN where LAPACK does not converge.
    from keras_constrained.optimizers import layer_norms

    def failing_eigh(a):
        values, vectors = keras.ops.eigh(a)
        return values * np.nan, vectors

    monkeypatch.setattr(layer_norms, "eigh", failing_eigh)
    x, y = regression_data()
    model = tanh_mlp()
    optimizer = DSGD(norm="spectral")
    model.compile(optimizer, "mse")
    before = model.get_weights()
    model.train_on_batch(x, y)
    assert int(optimizer.chosen_layer) == -1
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, message", [
    ({"smoothness": 0.0}, "smoothness"),
    ({"smoothness": -1.0}, "smoothness"),
    ({"smoothness": float("inf")}, "smoothness"),
    ({"smoothness": "1"}, "smoothness"),
    ({"smoothness": True}, "smoothness"),
    ({"smoothness": "Adaptive"}, "smoothness"),
    ({"smoothness": []}, "smoothness"),
    ({"smoothness": [1.0, 0.0]}, "smoothness"),
    ({"norm": "nuclear"}, "norm"),
    ({"scale": "depth"}, "scale"),
    ({"groups": ["dense/kernel"]}, "groups"),
    ({"groups": [["a"], ["a"]]}, "groups"),
    ({"groups": [[]]}, "groups"),
    ({"weight_decay": 0.1}, "weight_decay"),
])
def test_bad_arguments_raise_a_clear_value_error(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        DSGD(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"smoothness": [1.0, 2.0]}, "3 layers"),
    ({"groups": [["no/such/path"]]}, "no/such/path"),
])
def test_arguments_that_do_not_fit_the_model_fail_in_build(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DSGD(**kwargs).build(tanh_mlp().trainable_variables)


def test_a_zero_initialized_output_layer_is_trained_first():
    # Through a zero output kernel no gradient reaches the hidden layers,
    # and the power iteration meets a zero matrix: the step stays finite.
    model = keras.Sequential([
        keras.Input((5,)), keras.layers.Dense(6, activation="tanh"),
        keras.layers.Dense(1, kernel_initializer="zeros")])
    optimizer = DSGD(smoothness=0.1, scale="architecture")
    model.compile(optimizer, "mse")
    model.train_on_batch(*regression_data())
    assert int(optimizer.chosen_layer) == 1
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_ties_go_to_the_lowest_layer():
    # Two identical layers side by side (same input, same weights): their
    # gradients and scores are equal.
    inputs = keras.Input((3,))
    branches = [keras.layers.Dense(2, kernel_initializer="ones")(inputs)
                for _ in range(2)]
    model = keras.Model(inputs, keras.layers.Add()(branches))
    optimizer = DSGD(norm="frobenius")
    model.compile(optimizer, "mse")
    model.train_on_batch(np.ones((4, 3)), np.zeros((4, 2)))
    assert int(optimizer.chosen_layer) == 0


def mlp(activation, widths=(20, 64, 64, 1)):
    return keras.Sequential(
        [keras.Input((widths[0],))]
        + [keras.layers.Dense(w, activation=activation)
           for w in widths[1:-1]]
        + [keras.layers.Dense(widths[-1])])


@pytest.mark.parametrize("activation, norm, ratio", [
    ("tanh", "spectral", 0.01), ("tanh", "frobenius", 0.2),
    ("relu", "spectral", 0.25), ("relu", "frobenius", 0.25)])
def test_from_its_defaults_the_full_batch_loss_never_rises(
        activation, norm, ratio):
    # The user's report of issue 13: this network diverged within 200
    # steps from `DSGD()` with a fixed `L = 1`.
    x, y = regression_data(n=256, d=20, seed=1)
    model = mlp(activation)
    model.compile(DSGD(norm=norm), "mse")
    # Each full-batch step returns the loss before it (fit's epochs cost
    # more than the steps here).
    losses = [float(model.train_on_batch(x, y)) for _ in range(200)]
    losses.append(model.evaluate(x, y, batch_size=256, verbose=0))
    rises = np.diff(losses)
    assert np.all(rises <= 1e-7 * losses[0]), (np.flatnonzero(rises > 0),
                                               rises[rises > 0])
    assert losses[-1] < ratio * losses[0]


def linear_regression(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    return model, x, y


def test_adaptive_l_is_the_documented_rule_on_a_quadratic():
    # One Dense layer and the mean squared error: the loss is quadratic in
    # `W = [kernel; bias]`, with Hessian `H = 2 X1^T X1 / (32 * 2)` per
    # output column, so the curvature along a step `D` is exactly
    # `kappa = <X1 D, X1 D> * 2 / 64 / ||D||^2`.
    model, x, y = linear_regression()
    optimizer = DSGD(norm="frobenius")
    model.compile(optimizer, "mse")
    x1 = np.hstack([x, np.ones((32, 1))]).astype("float64")
    weights = [np.vstack([k, b[None]]).astype("float64")
               for k, b in [model.get_weights()]][0]

    def gradient(w):
        return 2 * x1.T @ (x1 @ w - y) / y.size

    g = gradient(weights)
    first = np.linalg.norm(g) / (dsgd.FIRST_STEP * np.linalg.norm(weights))
    model.train_on_batch(x, y)
    step = layer_matrices(model)[0] - weights
    np.testing.assert_allclose(np.linalg.norm(step),
                               dsgd.FIRST_STEP * np.linalg.norm(weights),
                               rtol=1e-5)
    np.testing.assert_allclose(to_numpy(optimizer.layer_smoothness), [first],
                               rtol=1e-5)
    kappa = np.sum((x1 @ step) ** 2) * 2 / y.size / np.sum(step ** 2)
    assert dsgd.FLOOR * kappa < dsgd.SHRINK * first  # a small first step
    model.train_on_batch(x, y)
    np.testing.assert_allclose(to_numpy(optimizer.layer_smoothness),
                               [max(dsgd.SHRINK * first, dsgd.FLOOR * kappa)],
                               rtol=1e-3)


def test_a_step_that_broke_the_bound_raises_l():
    # With a fixed step far too long for the quadratic, the measured
    # curvature exceeds `L`: `L` becomes `max(2 kappa, 2 L)`.
    model, x, y = linear_regression(seed=1)
    optimizer = DSGD(norm="frobenius")
    model.compile(optimizer, "mse")
    model.train_on_batch(x, y)
    small = 1e-3 * float(to_numpy(optimizer.layer_smoothness)[0])
    optimizer.layer_smoothness.assign([small])
    before = layer_matrices(model)[0].astype("float64")
    model.train_on_batch(x, y)
    step = layer_matrices(model)[0] - before
    x1 = np.hstack([x, np.ones((32, 1))]).astype("float64")
    kappa = np.sum((x1 @ step) ** 2) * 2 / y.size / np.sum(step ** 2)
    assert kappa > small
    model.train_on_batch(x, y)
    np.testing.assert_allclose(to_numpy(optimizer.layer_smoothness),
                               [max(dsgd.FLOOR * kappa, dsgd.GROWTH * small)],
                               rtol=1e-3)


def skipped_step_warnings(record):
    return [w for w in record if "skipped a step" in str(w.message)]


def test_skipped_steps_warn_once_per_optimizer():
    x, y = regression_data()
    x[0, 0] = np.nan
    model = tanh_mlp()
    optimizer = DSGD()
    model.compile(optimizer, "mse")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=64, epochs=2, verbose=0)
        assert int(optimizer.chosen_layer) == -1
        assert len(skipped_step_warnings(record)) == 1
        # A finite step warns about nothing.
        x[0, 0] = 0.0
        model.train_on_batch(x, y)
    assert int(optimizer.chosen_layer) >= 0
    assert len(skipped_step_warnings(record)) == 1
    other = DSGD()
    model.compile(other, "mse")
    x[0, 0] = np.nan
    with pytest.warns(UserWarning, match="skipped a step"):
        model.train_on_batch(x, y)


@pytest.mark.skipif(keras.config.backend() != "tensorflow",
                    reason="XLA-compiled train steps under TensorFlow only")
def test_under_xla_a_skipped_step_still_compiles_and_skips():
    # XLA compiles no host callback: the step skips, without a warning.
    x, y = regression_data()
    x[0, 0] = np.nan
    model = tanh_mlp()
    optimizer = DSGD()
    model.compile(optimizer, "mse", jit_compile=True)
    before = model.get_weights()
    model.train_on_batch(x, y)
    assert int(optimizer.chosen_layer) == -1
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("norm", ["spectral", "frobenius"])
def test_a_huge_finite_gradient_is_not_skipped(norm):
    # Gradient entries of 1e22: their squares overflow float32, which made
    # DSGD skip the steps of a diverged ReLU network (digits, batch 32).
    model, x, y = linear_regression()
    model.compile(DSGD(smoothness=1.0, norm=norm), "mse")
    model.train_on_batch(x, 1e22 * y)
    assert int(model.optimizer.chosen_layer) == 0
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
