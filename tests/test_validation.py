"""Every public constructor checks its arguments: a `ValueError` for a value
out of range, a `TypeError` for a value of the wrong type, each naming the
argument; NumPy scalars count as the numbers they hold, and configs keep
plain Python numbers."""

import functools
import json
import math
import re

import keras
import numpy as np
import pytest

from keras_constrained.callbacks import GradientNormMonitor
from keras_constrained.callbacks import LayerChoiceLogger
from keras_constrained.callbacks import PosteriorSampler
from keras_constrained.callbacks import SensitivityMonitor
from keras_constrained.constraints import MagnitudeBound
from keras_constrained.constraints import Orthogonal
from keras_constrained.constraints import Sphere
from keras_constrained.datasets import load_fashion_mnist
from keras_constrained.datasets import spiral
from keras_constrained.layers import BatchlessNormalization
from keras_constrained.layers import Hamiltonian
from keras_constrained.layers import WeightNormalization
from keras_constrained.layers import graph_pattern
from keras_constrained.layers import initialize_from_data
from keras_constrained.layers import sensitivity_norms
from keras_constrained.optimizers import DSGD
from keras_constrained.optimizers import OverdampedLangevin
from keras_constrained.optimizers import PreconditionedLangevin
from keras_constrained.optimizers import RiemannianAdam
from keras_constrained.optimizers import RiemannianSGD
from keras_constrained.optimizers import UnderdampedLangevin
from keras_constrained.optimizers import posterior_temperature

NAN, INF = math.nan, math.inf
X = np.zeros((4, 2), "float32")
hamiltonian = functools.partial(Hamiltonian, depth=2, step_size=0.1)
monitor = functools.partial(GradientNormMonitor, X, np.zeros((4, 1)))


def bad_learning_rates(cls):
    return [(cls, {"learning_rate": value}, ValueError, "learning_rate")
            for value in (-1.0, 0, NAN, INF)] + [
        (cls, {"learning_rate": "0.1"}, TypeError, "learning_rate"),
        (cls, {"learning_rate": True}, TypeError, "learning_rate")]


BAD = [
    *bad_learning_rates(OverdampedLangevin),
    *bad_learning_rates(UnderdampedLangevin),
    *bad_learning_rates(DSGD),
    (OverdampedLangevin, {"temperature": NAN}, ValueError, "temperature"),
    (OverdampedLangevin, {"seed": 1.0}, TypeError, "seed"),
    (UnderdampedLangevin, {"friction": NAN}, ValueError, "friction"),
    (UnderdampedLangevin, {"friction": "1"}, TypeError, "friction"),
    (UnderdampedLangevin, {"scheme": 1}, TypeError, "scheme"),
    (UnderdampedLangevin.from_sgd, {"learning_rate": INF}, ValueError,
     "learning_rate"),
    (functools.partial(UnderdampedLangevin.from_sgd, 0.1),
     {"momentum": NAN}, ValueError, "momentum"),
    (functools.partial(UnderdampedLangevin.from_sgd, 0.1),
     {"weight_decay": -0.1}, ValueError, "weight_decay"),
    (OverdampedLangevin.from_sgd, {"learning_rate": "0.1"}, TypeError,
     "learning_rate"),
    (DSGD, {"smoothness": INF}, ValueError, "smoothness"),
    (DSGD, {"smoothness": [1.0, "2"]}, TypeError, "smoothness[1]"),
    (DSGD, {"norm": None}, TypeError, "norm"),
    (posterior_temperature, {"num_examples": 10.0}, TypeError,
     "num_examples"),
    (posterior_temperature, {"num_examples": np.int64(0)}, ValueError,
     "num_examples"),
    (functools.partial(posterior_temperature, 10, "sum"),
     {"batch_size": 20}, ValueError, "batch_size"),
    (MagnitudeBound, {"radius": "0.1"}, TypeError, "radius"),
    (MagnitudeBound, {"radius": INF}, ValueError, "radius"),
    (Sphere, {"radius": True}, TypeError, "radius"),
    (Orthogonal, {"max_iterations": 5.0}, TypeError, "max_iterations"),
    (Orthogonal, {"tolerance": NAN}, ValueError, "tolerance"),
    (BatchlessNormalization, {"center": "False"}, TypeError, "center"),
    (BatchlessNormalization, {"scale": 1}, TypeError, "scale"),
    (BatchlessNormalization, {"gauge": None}, TypeError, "gauge"),
    (BatchlessNormalization, {"init_mean": NAN}, ValueError, "init_mean"),
    (BatchlessNormalization, {"init_mean": INF}, ValueError, "init_mean"),
    (BatchlessNormalization, {"init_mean": "0"}, TypeError, "init_mean"),
    (BatchlessNormalization, {"epsilon": NAN}, ValueError, "epsilon"),
    (BatchlessNormalization, {"axis": 1.0}, TypeError, "axis"),
    (BatchlessNormalization, {"std_parametrization": None}, TypeError,
     "std_parametrization"),
    (hamiltonian, {"smoothness_weight": INF}, ValueError,
     "smoothness_weight"),
    (hamiltonian, {"kernel_mask": np.ones((2, 2, 2))}, ValueError,
     "kernel_mask"),
    (hamiltonian, {"kernel_mask": np.ones(4)}, ValueError, "kernel_mask"),
    (hamiltonian, {"kernel_mask": "ring"}, TypeError, "kernel_mask"),
    (hamiltonian, {"depth": 2.0}, TypeError, "depth"),
    (hamiltonian, {"step_size": NAN}, ValueError, "step_size"),
    (hamiltonian, {"state_size": 4.0}, TypeError, "state_size"),
    (hamiltonian, {"input_indices": [0.5]}, TypeError, "input_indices"),
    (hamiltonian, {"input_indices": 3}, TypeError, "input_indices"),
    (hamiltonian, {"integrator": "forward_euler",
                   "interconnection": [[0, NAN], [NAN, 0]]},
     ValueError, "interconnection"),
    (hamiltonian, {"coupling": np.ones(3)}, ValueError, "coupling"),
    (hamiltonian, {"integrator": None}, TypeError, "integrator"),
    (WeightNormalization, {"layer": "dense"}, TypeError, "layer"),
    (functools.partial(WeightNormalization, keras.layers.Dense(2)),
     {"data_init": "yes"}, TypeError, "data_init"),
    (graph_pattern, {"num_nodes": 2.0, "edges": []}, TypeError, "num_nodes"),
    (graph_pattern, {"num_nodes": 2, "edges": [(0, True)]}, ValueError,
     "edges"),
    (sensitivity_norms, {"layer": "hamiltonian", "inputs": X}, TypeError,
     "layer"),
    (initialize_from_data, {"model": "model", "x": X}, TypeError, "model"),
    (PosteriorSampler, {"every": 2.0}, TypeError, "every"),
    (PosteriorSampler, {"directory": 3}, TypeError, "directory"),
    (SensitivityMonitor, {"x": X, "every": np.int64(0)}, ValueError,
     "every"),
    (SensitivityMonitor, {"x": X, "layer": 3}, TypeError, "layer"),
    (monitor, {"kernel_name": 3}, TypeError, "kernel_name"),
    (GradientNormMonitor, {"x": X, "y": np.zeros((3, 1))}, ValueError, "y"),
    (GradientNormMonitor, {"x": X, "y": np.zeros(())}, ValueError, "y"),
    (spiral, {"n_train": 2.5}, TypeError, "n_train"),
    (spiral, {"turns": NAN}, ValueError, "turns"),
    (load_fashion_mnist, {"download": "yes"}, TypeError, "download"),
]


def case_id(case):
    build, kwargs, _, _ = case
    name = getattr(build, "__qualname__", None) or build.func.__qualname__
    values = [f"{k}={v!r}" if np.ndim(v) == 0 else f"{k}=shape{np.shape(v)}"
              for k, v in kwargs.items()]
    return "-".join([name, *values])


@pytest.mark.parametrize("build, kwargs, error, name", BAD,
                         ids=[case_id(c) for c in BAD])
def test_bad_arguments_raise_naming_them(build, kwargs, error, name):
    pattern = rf"`{re.escape(name)}`.*must be.*received"
    with pytest.raises(error, match=pattern):
        build(**kwargs)


@pytest.mark.parametrize("build, message", [
    (lambda: UnderdampedLangevin(0.1, friction=-1.0),
     "`friction` must be a number >= 0 or math.inf; received friction=-1.0."),
    (lambda: UnderdampedLangevin.from_sgd(0.1, momentum=1.0),
     "`momentum` must be a number in [0, 1); received momentum=1.0."),
    (lambda: MagnitudeBound("0.1"),
     "`radius` must be a finite number > 0; received radius='0.1' of type "
     "str."),
    (lambda: BatchlessNormalization(center="False"),
     "`center` must be a bool (True or False); received center='False' of "
     "type str."),
    (lambda: Orthogonal(max_iterations=0),
     "`max_iterations` must be an int >= 1; received max_iterations=0."),
    (lambda: OverdampedLangevin(0),
     "`learning_rate` must be a finite number > 0, a keras.optimizers."
     "schedules.LearningRateSchedule or a callable; received "
     "learning_rate=0."),
])
def test_messages_say_what_is_allowed(build, message):
    with pytest.raises((TypeError, ValueError)) as info:
        build()
    assert str(info.value) == message


def test_callbacks_reject_what_only_the_model_shows():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"`kernel_name` must name .*"
                       r"\['bias', 'kernel'\]; received kernel_name='nope'"):
        model.fit(X, y, verbose=0,
                  callbacks=[GradientNormMonitor(X, y, kernel_name="nope")])
    with pytest.raises(TypeError, match=r"`model.optimizer` must be .*DSGD"
                       r".*of type SGD"):
        model.fit(X, y, verbose=0, callbacks=[LayerChoiceLogger()])


@pytest.mark.parametrize("learning_rate", [
    keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5),
    lambda: 0.1])
@pytest.mark.parametrize("cls", [OverdampedLangevin, UnderdampedLangevin,
                                 PreconditionedLangevin, DSGD,
                                 RiemannianAdam, RiemannianSGD])
def test_learning_rate_schedules_and_callables_are_accepted(cls,
                                                            learning_rate):
    optimizer = cls(learning_rate=learning_rate)
    assert optimizer._learning_rate is learning_rate


def plain(config):
    """`config` holds only plain Python values (no NumPy scalars)."""
    leaves = keras.tree.flatten(config)
    return not any(isinstance(v, np.generic) for v in leaves)


@pytest.mark.parametrize("build, kwargs", [
    (DSGD, {"learning_rate": np.float32(0.5),
            "smoothness": np.float32(2.0)}),
    (DSGD, {"smoothness": [np.float64(1.0), np.int64(2)]}),
    (OverdampedLangevin, {"learning_rate": np.float32(0.25),
                          "temperature": np.float64(1e-3),
                          "seed": np.int64(3)}),
    (UnderdampedLangevin, {"learning_rate": np.float64(0.3),
                           "friction": np.float32(1.0)}),
    (Orthogonal, {"max_iterations": np.int64(5),
                  "tolerance": np.float64(1e-6)}),
    (MagnitudeBound, {"radius": np.float32(0.5)}),
    (Sphere, {"radius": np.int32(2)}),
    (BatchlessNormalization, {"axis": np.int64(-1),
                              "epsilon": np.float32(1e-3),
                              "center": np.bool_(False),
                              "init_mean": np.float32(0.5),
                              "init_std": np.int64(2)}),
    (hamiltonian, {"depth": np.int64(3), "step_size": np.float32(0.25),
                   "state_size": np.int32(4),
                   "smoothness_weight": np.float64(0.5),
                   "input_indices": np.array([0, 3])}),
])
def test_numpy_scalars_are_accepted_and_configs_stay_plain(build, kwargs):
    obj = build(**kwargs)
    config = obj.get_config()
    assert plain(config)
    for key, value in kwargs.items():
        if key in config and np.ndim(config[key]) == 0 == np.ndim(value):
            assert math.isclose(config[key], value, rel_tol=1e-6)
    text = json.dumps(config)
    assert type(obj).from_config(json.loads(text)).get_config() == config


def test_numpy_scalars_in_functions_from_sgd_and_callbacks():
    optimizer = UnderdampedLangevin.from_sgd(
        np.float32(0.01), momentum=np.float64(0.9),
        weight_decay=np.float32(1e-4))
    assert plain(optimizer.get_config())
    assert optimizer.get_config()["weight_decay"] > 0
    assert posterior_temperature(np.int64(100)) == 0.01
    assert posterior_temperature(np.int64(100), "sum",
                                 batch_size=np.int32(5)) == 0.05
    assert graph_pattern(np.int64(3), [(0, 1)], np.int32(2)).shape == (6, 6)
    sampler = PosteriorSampler(burn_in=np.int64(2), every=np.int32(1),
                               max_samples=np.int64(3))
    assert [type(v) for v in (sampler.burn_in, sampler.every,
                              sampler.max_samples)] == [int] * 3
    assert type(SensitivityMonitor(X, every=np.int64(2)).every) is int
