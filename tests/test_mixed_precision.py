"""Mixed precision (`mixed_float16`, `mixed_bfloat16`): every layer,
optimizer, constraint and the sensitivity callback train under both
policies, and the numerically sensitive parts compute in float32.

Kept cheap (each compiled train step costs seconds): the optimizers'
matrix is both policies times every optimizer, with the variants (Langevin
schemes, DSGD norms) shared out between the policies, on one model holding
every constraint. An optimizer sees float32 variables and float32 gradients
under either policy; only `mixed_float16` wraps it in Keras'
`LossScaleOptimizer`, so a variant's arithmetic does not depend on the
policy. The layers train in one model per policy, holding all of them.
"""

import keras
import numpy as np
import pytest
from helpers import to_numpy

import keras_constrained as kc

COMPUTE_DTYPES = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
OPTIMIZERS = {  # per policy: every optimizer, variants shared out
    "mixed_float16": {
        "overdamped": lambda: kc.optimizers.OverdampedLangevin(
            1e-3, temperature=1e-6, seed=0),
        "underdamped_oba": lambda: kc.optimizers.UnderdampedLangevin(
            0.03, friction=10.0, scheme="OBA"),
        "dsgd_spectral": lambda: kc.optimizers.DSGD(),
        "riemannian_adam": lambda: kc.optimizers.RiemannianAdam(1e-3),
    },
    "mixed_bfloat16": {
        "overdamped": lambda: kc.optimizers.OverdampedLangevin(1e-3),
        "underdamped_baoab": lambda: kc.optimizers.UnderdampedLangevin(
            0.03, temperature=1e-6, thermostat_mass=1.0, seed=0),
        "dsgd_frobenius": lambda: kc.optimizers.DSGD(
            norm="frobenius", scale="architecture"),
        "riemannian_sgd": lambda: kc.optimizers.RiemannianSGD(
            0.01, momentum=0.9),
    },
}
INTEGRATORS = ["semi_implicit", "forward_euler", "antisymmetric",
               "hamiltonian_inspired"]
# Float32 tolerances of the constraints' `violation` (SparsityMask: exact).
TOLERANCES = {kc.constraints.Orthogonal: 1e-5, kc.constraints.Sphere: 1e-5,
              kc.constraints.MagnitudeBound: 1e-6,
              kc.constraints.SparsityMask: 0.0}


@pytest.fixture(params=list(COMPUTE_DTYPES))
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


def train(model, optimizer, policy, **kwargs):
    """Six steps of `fit` on a toy regression (`LossScaleOptimizer` skips
    the first while its initial loss scale overflows); returns the
    history."""
    x = np.random.default_rng(0).normal(size=(24, 6)).astype("float32")
    model.compile(optimizer=optimizer, loss="mse")
    if policy == "mixed_float16":  # Keras wraps it to scale the loss
        assert isinstance(model.optimizer,
                          keras.optimizers.LossScaleOptimizer)
    before = [to_numpy(v) for v in model.trainable_variables]
    logs = model.fit(x, np.sin(x[:, :1]), batch_size=4, verbose=0,
                     **kwargs).history
    assert np.isfinite(logs["loss"]).all()
    assert model.layers[-1].compute_dtype == COMPUTE_DTYPES[policy]
    # Weights and optimizer state (slots, loss scale) are float32.
    assert {v.dtype for v in model.trainable_variables} == {"float32"}
    assert {v.dtype for v in model.optimizer.variables
            if keras.backend.is_float_dtype(v.dtype)} == {"float32"}
    assert any(not np.array_equal(b, to_numpy(v))
               for b, v in zip(before, model.trainable_variables))
    return logs


def every_constraint():
    # No biases: each further variable shape is one more compiled step.
    constraints = kc.constraints
    dense = lambda *args, **kwargs: keras.layers.Dense(
        *args, use_bias=False, **kwargs)
    return keras.Sequential([
        keras.Input((6,)),
        dense(8, kernel_initializer="orthogonal",
              kernel_constraint=constraints.Orthogonal()),
        dense(8, kernel_constraint=constraints.Sphere()),
        dense(8, kernel_initializer=keras.initializers.RandomUniform(
            -0.3, 0.3), kernel_constraint=constraints.MagnitudeBound(0.3)),
        dense(1, kernel_constraint=constraints.SparsityMask(np.tri(8, 1))),
    ])


@pytest.mark.parametrize(
    "policy, optimizer",
    [(policy, name) for policy in OPTIMIZERS for name in OPTIMIZERS[policy]],
    indirect=["policy"])
def test_every_optimizer_keeps_every_constraint(policy, optimizer):
    model = every_constraint()
    train(model, OPTIMIZERS[policy][optimizer](), policy)
    for v in model.trainable_variables:
        assert to_numpy(v.constraint.violation(v)) <= TOLERANCES[
            type(v.constraint)], v.path


def test_every_layer_trains(policy):
    layers = kc.layers
    ring = layers.graph_pattern(4, [(i, (i + 1) % 4) for i in range(4)])
    model = layers.BatchlessSequential([
        keras.Input((6,)),
        layers.BatchlessNormalization(std_parametrization="log"),
        layers.WeightNormalization(keras.layers.Dense(8, activation="tanh")),
        layers.BatchlessNormalization(std_parametrization="abs"),
        layers.BatchlessNormalization(std_parametrization="inv"),
        # The semi-implicit one (monitored) has two steps and a masked
        # kernel (a SparsityMask constraint).
        *[layers.Hamiltonian(
            2 if integrator == INTEGRATORS[0] else 1, 0.2,
            integrator=integrator, name=integrator, smoothness_weight=0.1,
            kernel_mask=ring if integrator == INTEGRATORS[0] else None)
          for integrator in INTEGRATORS],
        keras.layers.Dense(1),
    ])
    x = np.random.default_rng(0).normal(size=(16, 6)).astype("float32")
    layers.initialize_from_data(model, x)
    monitor = kc.callbacks.SensitivityMonitor(x[:4], layer=INTEGRATORS[0])
    # Any optimizer would do (the layers' variables are unconstrained but
    # for the mask): the cheapest of the package's to compile.
    optimizer = kc.optimizers.OverdampedLangevin(0.03)
    logs = train(model, optimizer, policy, callbacks=[monitor])

    assert np.isfinite(logs["bln_nll"]).all()
    mask = model.get_layer(INTEGRATORS[0]).kernel
    assert to_numpy(mask.constraint.violation(mask)) == 0.0
    # The semi-implicit guarantee, to float32 rounding, before and after.
    assert monitor.norms.shape == (2, 4, 2)
    assert monitor.norms.min() >= 1 - 1e-5


@pytest.mark.parametrize("parametrization", ["log", "abs", "inv"])
def test_batchless_normalization_statistics_in_float32(policy,
                                                       parametrization):
    # Inputs of about 300: their squares overflow float16 (max 65504).
    x = 300.0 * np.random.default_rng(0).normal(size=(16, 3))
    layer = kc.layers.BatchlessNormalization(
        std_parametrization=parametrization)
    outputs = layer(x, training=True)
    (term,) = layer.losses
    dtype = COMPUTE_DTYPES[policy]
    assert keras.backend.standardize_dtype(outputs.dtype) == dtype
    assert keras.backend.standardize_dtype(term.dtype) == "float32"
    # mu = 0, sigma = 1: the gauged NLL is mean(x^2) / 2 - 1/2, of the
    # inputs as the layer receives them (rounded to the compute dtype).
    received = to_numpy(keras.ops.cast(x, dtype)).astype("float64")
    np.testing.assert_allclose(to_numpy(term),
                               0.5 * np.mean(received**2) - 0.5, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(outputs).astype("float64"), received,
                               rtol=1e-2)


def test_hamiltonian_jacobians_and_penalty_in_float32():
    # As under a float32 policy; the same float32 computation under either
    # mixed policy, so one serves. (The shapes of `test_every_layer_trains`'
    # monitor: JAX then reuses the compiled eager ops.)
    x = np.random.default_rng(1).normal(size=(4, 6)).astype("float32")
    for integrator in INTEGRATORS:
        layer = kc.layers.Hamiltonian(2, 0.3, integrator=integrator,
                                      smoothness_weight=0.1,
                                      dtype="mixed_bfloat16")
        assert np.isfinite(to_numpy(layer(x))).all()
        twin = kc.layers.Hamiltonian(2, 0.3, integrator=integrator,
                                     smoothness_weight=0.1)
        twin.build(x.shape)
        twin.set_weights(layer.get_weights())
        norms = kc.layers.sensitivity_norms(layer, x)
        penalty = layer.smoothness_penalty()
        for value in (norms, penalty):
            assert keras.backend.standardize_dtype(value.dtype) == "float32"
        np.testing.assert_allclose(
            to_numpy(norms), to_numpy(kc.layers.sensitivity_norms(twin, x)),
            rtol=1e-6)
        np.testing.assert_allclose(to_numpy(penalty),
                                   to_numpy(twin.smoothness_penalty()),
                                   rtol=1e-6)


def test_weight_normalization_norms_in_float32(policy):
    # Weights of about 1e-4: their float16 squares underflow to 0.
    x = np.random.default_rng(2).normal(size=(5, 6)).astype("float32")
    layer = kc.layers.WeightNormalization(keras.layers.Dense(
        4, kernel_initializer=keras.initializers.RandomNormal(stddev=1e-4)))
    outputs = to_numpy(layer(x)).astype("float64")
    assert layer.g.dtype == "float32"
    assert keras.backend.standardize_dtype(
        layer.normalized_kernel().dtype) == "float32"
    # At build g = ||v||, so w = v.
    expected = x @ to_numpy(layer.layer.kernel)
    np.testing.assert_allclose(outputs, expected,
                               atol=3e-2 * np.abs(expected).max())


def test_migrated_batch_normalization_computes_the_same(policy):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 3)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
                              keras.layers.BatchNormalization()])
    model.layers[-1].set_weights([rng.uniform(0.5, 2.0, 4), rng.normal(
        size=4), rng.normal(size=4), rng.uniform(0.5, 2.0, 4)])
    batchless = kc.layers.migrate_batch_normalization(model)
    expected = to_numpy(model(x)).astype("float64")
    np.testing.assert_allclose(to_numpy(batchless(x)).astype("float64"),
                               expected, atol=2e-2 * np.abs(expected).max())
