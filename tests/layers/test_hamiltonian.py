import warnings

import keras
import numpy as np
import pytest
from helpers import save_and_reload
from helpers import to_numpy

from keras_constrained.layers import Hamiltonian
from keras_constrained.layers import graph_pattern
from keras_constrained.layers import sensitivity_norms

INTEGRATORS = ["forward_euler", "semi_implicit", "antisymmetric",
               "hamiltonian_inspired"]
RING = graph_pattern(8, [(i, (i + 1) % 8) for i in range(8)])


@pytest.fixture(autouse=True)
def float64_under_jax():
    """JAX computes in float64 only inside `enable_x64`."""
    if keras.config.backend() != "jax":
        yield
        return
    import jax

    with jax.enable_x64(True):
        yield


def jacobian(fn, x):
    """`d fn(x) / d x` for a vector `x`, by this backend's autodiff."""
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        # Jitted: one compilation instead of one per operation.
        return np.asarray(jax.jit(jax.jacfwd(fn))(x))
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return tape.jacobian(y, x).numpy()
    import torch

    return torch.autograd.functional.jacobian(
        fn, torch.as_tensor(x)).cpu().numpy()


def network_jacobian(layer, y0):
    """`d y_N / d y_0` of a layer whose input is the whole state."""
    return jacobian(lambda v: layer(v[None])[0], y0)


def canonical(m):
    return np.block([[np.zeros((m, m)), -np.eye(m)],
                     [np.eye(m), np.zeros((m, m))]])


def built(dtype="float32", n=4, **kwargs):
    kwargs.setdefault("depth", 1)
    kwargs.setdefault("step_size", 0.1)
    layer = Hamiltonian(dtype=dtype, **kwargs)
    layer.build((None, n))
    return layer


def random_state(n, dtype="float32", seed=0):
    return np.random.default_rng(seed).normal(size=n).astype(dtype)


def symplectic_j(x):
    m = len(x)
    return np.block([[np.zeros((m, m)), -x.T], [x, np.zeros((m, m))]])


# XLA's float64 tanh (JAX) is accurate to about 1e-9 only.
@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5),
                                        ("float64", 1e-8)])
@pytest.mark.parametrize("with_x", [False, True])
def test_semi_implicit_step_is_symplectic(dtype, tol, with_x):
    x = (np.random.default_rng(1).normal(size=(3, 3)) if with_x
         else np.eye(3))
    layer = built(dtype, n=6, coupling=x if with_x else None)
    a = network_jacobian(layer, random_state(6, dtype))
    j = symplectic_j(x)
    np.testing.assert_allclose(a @ j @ a.T, j, atol=tol)
    assert abs(np.linalg.det(a.astype("float64")) - 1) < tol


def test_forward_euler_step_is_not_symplectic():
    layer = built(n=4, integrator="forward_euler", step_size=0.5)
    a = network_jacobian(layer, random_state(4))
    j = canonical(2).T  # J1 = [[0, I], [-I, 0]]
    assert np.abs(a @ j @ a.T - j).max() > 0.1
    assert abs(np.linalg.det(a) - 1) > 0.01


def test_hamiltonian_inspired_step_has_unit_determinant():
    layer = built(n=6, integrator="hamiltonian_inspired", step_size=0.5)
    a = network_jacobian(layer, random_state(6))
    assert abs(np.linalg.det(a) - 1) < 1e-5


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_closed_form_jacobians_match_autodiff(integrator):
    extra = ({"interconnection": "J2"} if integrator == "forward_euler" else
             {"coupling": np.random.default_rng(2).normal(size=(2, 2))}
             if integrator == "semi_implicit" else {})
    layer = built("float64", n=4, depth=3, step_size=0.3,
                  integrator=integrator, **extra)
    y0 = random_state(4, "float64")
    steps = to_numpy(layer.step_jacobians(y0[None]))[:, 0]
    product = steps[2] @ steps[1] @ steps[0]
    # atol: XLA's float64 tanh derivative (JAX) has float32 accuracy.
    np.testing.assert_allclose(product, network_jacobian(layer, y0),
                               atol=1e-6)
    norms = to_numpy(sensitivity_norms(layer, y0[None]))[0]
    expected = [np.linalg.norm(steps[2], 2),
                np.linalg.norm(steps[2] @ steps[1], 2),
                np.linalg.norm(product, 2)]
    np.testing.assert_allclose(norms, expected, rtol=1e-10)


def test_sensitivity_norms_stay_above_one_through_64_layers():
    layer = built("float64", n=8, depth=64, step_size=4 / 64)
    y0 = np.random.default_rng(3).normal(size=(5, 8))
    norms = to_numpy(sensitivity_norms(layer, y0))
    assert norms.shape == (5, 64)
    assert norms.min() >= 1 - 1e-10


def test_semi_implicit_forward_pass_follows_the_paper():
    # p_{j+1} = p_j - h X^T Kq^T tanh(Kq q_j + bq),
    # q_{j+1} = q_j + h X Kp^T tanh(Kp p_{j+1} + bp), column vectors.
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 2))
    layer = built("float64", n=4, depth=2, step_size=0.3, coupling=x)
    kernel, bias = (to_numpy(w) for w in layer.weights)
    y = random_state(4, "float64")
    p, q = y[:2].copy(), y[2:].copy()
    for j in range(2):
        kp, kq, bp, bq = kernel[j, 0], kernel[j, 1], bias[j, :2], bias[j, 2:]
        p = p - 0.3 * x.T @ kq.T @ np.tanh(kq @ q + bq)
        q = q + 0.3 * x @ kp.T @ np.tanh(kp @ p + bp)
    np.testing.assert_allclose(to_numpy(layer(y[None]))[0],
                               np.concatenate([p, q]), atol=1e-12)


def test_forward_euler_pass_follows_the_paper():
    j_matrix = canonical(2).T
    layer = built("float64", n=4, depth=2, step_size=0.3,
                  integrator="forward_euler", interconnection="J1")
    kernel, bias = (to_numpy(w) for w in layer.weights)
    y = random_state(4, "float64")
    expected = y.copy()
    for j in range(2):
        expected = expected + 0.3 * j_matrix @ kernel[j].T @ np.tanh(
            kernel[j] @ expected + bias[j])
    np.testing.assert_allclose(to_numpy(layer(y[None]))[0], expected,
                               atol=1e-12)


def test_two_dimensional_inputs_enter_first_and_last_state_entries():
    layer = Hamiltonian(depth=1, step_size=0.1, state_size=6)
    layer(np.zeros((1, 2), "float32"))
    y0 = to_numpy(layer.embed(np.array([[2.0, 3.0]], "float32")))
    np.testing.assert_array_equal(y0, [[2, 0, 0, 0, 0, 3]])
    layer = Hamiltonian(depth=1, step_size=0.1, state_size=6,
                        input_indices=[4, 1])
    layer(np.zeros((1, 2), "float32"))
    y0 = to_numpy(layer.embed(np.array([[2.0, 3.0]], "float32")))
    np.testing.assert_array_equal(y0, [[0, 3, 0, 0, 2, 0]])


def test_acts_per_position_on_the_last_axis():
    layer = Hamiltonian(depth=3, step_size=0.2)
    images = np.random.default_rng(5).normal(size=(2, 3, 3, 4))
    out = to_numpy(layer(images.astype("float32")))
    flat = to_numpy(layer(images.reshape(-1, 4).astype("float32")))
    np.testing.assert_allclose(out.reshape(-1, 4), flat, atol=1e-6)


def test_regularizer_equals_numpy():
    layer = Hamiltonian(depth=5, step_size=0.25, smoothness_weight=0.3)
    layer(np.zeros((1, 4), "float32"))
    kernel, bias = (to_numpy(w).astype("float64") for w in layer.weights)
    expected = 0.3 * 0.25 * (np.sum(np.diff(kernel, axis=0) ** 2)
                             + np.sum(np.diff(bias, axis=0) ** 2))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(to_numpy(layer.losses[0])), expected,
                               rtol=1e-5)


def test_sparse_network_jacobian_has_the_graph_pattern():
    # One H2 step on a ring of 8 nodes (p and q one unit per node): q's
    # update reads p two hops away (K^T D K), p's update reads q two hops
    # away, and q then reads p's update: four hops.
    layer = built("float64", n=16, kernel_mask=RING, step_size=0.5)
    a = network_jacobian(layer, random_state(16, "float64"))
    two = np.linalg.matrix_power(RING, 2) > 0
    four = np.linalg.matrix_power(RING, 4) > 0
    eye = np.eye(8, dtype=bool)
    expected = np.block([[eye, two], [two, four]])
    np.testing.assert_array_equal(np.abs(a) > 1e-14, expected)


def test_sparse_kernel_stays_in_the_pattern_through_training():
    inputs = keras.Input((2,))
    layer = Hamiltonian(depth=2, step_size=0.5, state_size=16,
                        kernel_mask=RING, input_indices=[0, 12])
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    rng = np.random.default_rng(6)
    model.fit(rng.normal(size=(32, 2)), rng.normal(size=(32, 1)),
              epochs=2, batch_size=16, verbose=0)
    kernel = to_numpy(layer.kernel)
    assert np.all(kernel[..., RING == 0] == 0)
    assert np.all(kernel[..., RING == 1] != 0)


def test_antisymmetric_kernel_stays_in_a_symmetric_mask():
    # One step's Jacobian is I + h diag(act') (W - W^T): off the diagonal,
    # nonzero exactly on the mask's off-diagonal pattern.
    mask = graph_pattern(6, [(0, 1), (1, 2), (3, 5)])
    layer = built("float64", n=6, integrator="antisymmetric",
                  kernel_mask=mask, step_size=0.5)
    a = to_numpy(layer.step_jacobians(random_state(6, "float64")[None]))[0, 0]
    off_diagonal = ~np.eye(6, dtype=bool)
    np.testing.assert_array_equal((np.abs(a) > 1e-14)[off_diagonal],
                                  (mask > 0)[off_diagonal])


def test_save_and_load_round_trip(tmp_path):
    x = np.random.default_rng(7).normal(size=(3, 4)).astype("float32")
    inputs = keras.Input((4,))
    hidden = Hamiltonian(depth=3, step_size=0.2, integrator="forward_euler",
                         interconnection=canonical(2).tolist(),
                         smoothness_weight=1e-3)(inputs)
    hidden = Hamiltonian(depth=2, step_size=0.2,
                         coupling=np.diag([1.0, 2.0]), kernel_mask=np.eye(2),
                         state_size=4, activation="sigmoid",
                         kernel_regularizer="l2")(hidden)
    model = keras.Model(inputs, hidden)
    reloaded = save_and_reload(model, tmp_path)
    np.testing.assert_allclose(to_numpy(reloaded(x)), to_numpy(model(x)),
                               atol=1e-6)
    assert reloaded.layers[1].get_config() == model.layers[1].get_config()


RENAMED = [  # old name, new name, a value
    ("J", "interconnection", "J2"),
    ("X", "coupling", np.diag([1.0, 2.0])),
    ("smoothness", "smoothness_weight", 0.3),
]


def renamed_layer(old, **kwargs):
    """A layer whose integrator takes the argument named `old` (or its new
    name), with reproducible weights."""
    keras.utils.set_random_seed(9)
    return Hamiltonian(depth=2, step_size=0.2, name="hdnn", integrator=(
        "forward_euler" if old == "J" else "semi_implicit"), **kwargs)


@pytest.mark.parametrize("old, new, value", RENAMED)
def test_deprecated_names_warn_and_give_equal_outputs(old, new, value):
    x = np.random.default_rng(8).normal(size=(3, 4)).astype("float32")
    layer = renamed_layer(old, **{new: value})
    with pytest.warns(DeprecationWarning,
                      match=f"`{old}` is deprecated; use `{new}`"):
        deprecated = renamed_layer(old, **{old: value})
    np.testing.assert_array_equal(to_numpy(deprecated(x)),
                                  to_numpy(layer(x)))
    assert ([to_numpy(loss) for loss in deprecated.losses]
            == [to_numpy(loss) for loss in layer.losses])
    config = deprecated.get_config()
    assert old not in config and config[new] is not None
    assert config == layer.get_config()
    with pytest.raises(ValueError, match=f"`{old}`.*`{new}`"):
        renamed_layer(old, **{old: value, new: value})


@pytest.mark.parametrize("old, new, value", RENAMED)
def test_configs_with_the_deprecated_names_load(old, new, value):
    layer = renamed_layer(old, **{new: value})
    config = layer.get_config()
    old_config = {old if key == new else key: item
                  for key, item in config.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        loaded = Hamiltonian.from_config(old_config)
    assert loaded.get_config() == config


@pytest.mark.parametrize("kwargs, shape, message", [
    ({"state_size": 5}, 2, "state_size"),
    ({}, 3, "even"),
    ({"integrator": "forward_euler", "interconnection": [[0, 1], [1, 0]]}, 2,
     "skew-symmetric"),
    ({"integrator": "forward_euler",
      "interconnection": np.eye(3) - np.eye(3)}, 4, "`interconnection`"),
    ({"kernel_mask": np.ones((4, 4))}, 4, "kernel_mask"),
    ({"kernel_mask": np.full((2, 2), 2)}, 4, "mask"),
    ({"kernel_mask": np.eye(2), "coupling": np.ones((2, 2))}, 4,
     "`coupling`"),
    ({"integrator": "antisymmetric", "kernel_mask": np.triu(np.ones((4, 4)))},
     4, "`kernel_mask` must be symmetric"),
    ({"coupling": np.eye(2), "integrator": "forward_euler"}, 4, "`coupling`"),
    ({"interconnection": "J2"}, 4, "`interconnection`"),
    ({"integrator": "leapfrog"}, 4, "integrator"),
    ({"activation": "gelu"}, 4, "activation"),
    ({"depth": 0}, 4, "depth"),
    ({"step_size": -1.0}, 4, "step_size"),
    ({"smoothness_weight": -1.0}, 4, "smoothness_weight"),
    ({"state_size": 4, "input_indices": [0, 0]}, 2, "input_indices"),
    ({"state_size": 2}, 4, "state_size"),
])
def test_bad_arguments_raise_value_error(kwargs, shape, message):
    kwargs = {"depth": 2, "step_size": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        Hamiltonian(**kwargs).build((None, shape))


def test_graph_pattern():
    ring = graph_pattern(4, [(0, 1), (1, 2), (2, 3), (3, 0)])
    np.testing.assert_array_equal(ring, [[1, 1, 0, 1], [1, 1, 1, 0],
                                         [0, 1, 1, 1], [1, 0, 1, 1]])
    assert graph_pattern(3, [(0, 1)], units_per_node=2).shape == (6, 6)
    with pytest.raises(ValueError, match="edges"):
        graph_pattern(3, [(0, 3)])
    with pytest.raises(ValueError, match="num_nodes"):
        graph_pattern(0, [])


def test_sensitivity_norms_reject_an_unbuilt_layer():
    with pytest.raises(ValueError, match="layer"):
        sensitivity_norms(Hamiltonian(depth=2, step_size=0.1),
                          np.zeros((1, 4)))
