"""The cyclical step size and tempering of cyclical SG-MCMC (cSG-MCMC)."""

import math

import keras
import numpy as np
from keras import ops

from keras_constrained._validation import check_integer
from keras_constrained._validation import check_non_negative
from keras_constrained._validation import check_positive
from keras_constrained._validation import check_real

_Schedule = keras.optimizers.schedules.LearningRateSchedule


def _first_sampling_index(steps_per_cycle, exploration_fraction):
    """The least `m` in `0, ..., K` with `m / K >= beta` (`K` if none is
    below `K`): step `k` samples where `mod(k, K) >= m`, which is the
    paper's `r(k) >= beta` evaluated in floating point."""
    m = min(steps_per_cycle, math.ceil(exploration_fraction * steps_per_cycle))
    while m > 0 and (m - 1) / steps_per_cycle >= exploration_fraction:
        m -= 1
    while m < steps_per_cycle and m / steps_per_cycle < exploration_fraction:
        m += 1
    return m


@keras.saving.register_keras_serializable(package="keras_constrained")
class CyclicalSchedule(_Schedule):
    """The cosine cyclical step size of cyclical SG-MCMC.

    Zhang et al. (2020), Eq. (1): with `K` steps per cycle and the step
    `k` counted from 0 (Keras' `iterations`; the paper's `k - 1`),

    ```python
    alpha_k = alpha_0 / 2 * (cos(pi * mod(k, K) / K) + 1)
    ```

    so each cycle starts at `alpha_0 = initial_learning_rate` and decays
    towards 0. The fraction `r(k) = mod(k, K) / K` of the cycle sets the
    phase (the paper's Algorithm 1): steps with `r(k) < beta`,
    `beta = exploration_fraction`, explore (temperature 0, optimization
    with large steps), the others sample (the target temperature, small
    steps). The same object gives the temperature schedule of that
    tempering, `schedule.temperature(T)` (0 while exploring, `T` while
    sampling), and the phase of a step for callbacks,
    `schedule.is_sampling(k)`; `PosteriorSampler(schedule=...)` keeps
    samples only from the sampling phase.

    For a Langevin optimizer pass it as `learning_rate` (the time step
    `h`) and its `temperature(T)` as `temperature`.

    Args:
        initial_learning_rate: float > 0, `alpha_0`, the step size at the
            start of each cycle.
        steps_per_cycle: int >= 1, `K`, the steps of a cycle (the paper's
            `ceil(total_steps / cycles)`).
        exploration_fraction: float in `[0, 1]`, `beta`, the fraction of
            each cycle spent exploring (0: always sampling; 1: never).
        name: the schedule's name.

    Example:

    ```python
    schedule = keras_constrained.optimizers.CyclicalSchedule(
        0.1, steps_per_cycle=20, exploration_fraction=0.5)
    optimizer = keras_constrained.optimizers.OverdampedLangevin(
        schedule, temperature=schedule.temperature(1e-3), seed=0)
    sampler = keras_constrained.callbacks.PosteriorSampler(
        schedule=schedule)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(numpy.ones((40, 4)), numpy.zeros((40, 3)), batch_size=1,
              callbacks=[sampler], verbose=0)
    len(sampler)  # 20: the second half of each of the 2 cycles
    ```

    References:
        Zhang, Li, Zhang, Chen, Wilson. Cyclical stochastic gradient MCMC
        for Bayesian deep learning. ICLR 2020, arXiv:1902.03932.
    """

    def __init__(self, initial_learning_rate, steps_per_cycle,
                 exploration_fraction=0.5, name="cyclical_schedule"):
        super().__init__()
        self.initial_learning_rate = check_positive(
            "initial_learning_rate", initial_learning_rate)
        self.steps_per_cycle = check_integer("steps_per_cycle",
                                             steps_per_cycle, 1)
        self.exploration_fraction = check_real(
            "exploration_fraction", exploration_fraction, 0, 1)
        self.name = name
        self._first_sampling = _first_sampling_index(
            self.steps_per_cycle, self.exploration_fraction)

    def _position(self, step):
        """`mod(step, K)`, an integer tensor."""
        step = ops.convert_to_tensor(step)
        if not str(step.dtype).startswith("int"):
            step = ops.cast(step, "int32")
        return ops.mod(step, self.steps_per_cycle)

    def __call__(self, step):
        r = ops.cast(self._position(step), "float32") / self.steps_per_cycle
        return (0.5 * self.initial_learning_rate) * (
            ops.cos(math.pi * r) + 1.0)

    def is_sampling(self, step):
        """Whether step `step` (from 0, as `iterations`) is in the sampling
        phase, `mod(step, K) / K >= beta`: a bool, or a NumPy bool array
        for an array of steps."""
        position = np.mod(np.asarray(step, dtype="int64"),
                          self.steps_per_cycle)
        sampling = position >= self._first_sampling
        return bool(sampling) if sampling.ndim == 0 else sampling

    def temperature(self, temperature):
        """The temperature schedule of the tempering: 0 in the exploration
        phase, `temperature` in the sampling phase (a `CyclicalTemperature`
        of this schedule)."""
        return CyclicalTemperature(self, temperature)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "steps_per_cycle": self.steps_per_cycle,
                "exploration_fraction": self.exploration_fraction,
                "name": self.name}


@keras.saving.register_keras_serializable(package="keras_constrained")
class CyclicalTemperature(_Schedule):
    """The temperature of cyclical SG-MCMC: 0 while exploring, `T` while
    sampling, with the phases of a `CyclicalSchedule` (its `temperature(T)`
    builds one).

    Args:
        schedule: the `CyclicalSchedule` whose phases it follows.
        temperature: float >= 0, `T`, the temperature while sampling.

    Example:

    ```python
    schedule = keras_constrained.optimizers.CyclicalSchedule(
        0.1, steps_per_cycle=4, exploration_fraction=0.5)
    temperature = schedule.temperature(1e-3)
    [float(temperature(k)) for k in range(5)]  # [0, 0, 1e-3, 1e-3, 0]
    ```
    """

    def __init__(self, schedule, temperature):
        super().__init__()
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        if not isinstance(schedule, CyclicalSchedule):
            raise TypeError(
                "`schedule` must be a CyclicalSchedule; received "
                f"schedule={schedule!r} of type {type(schedule).__name__}.")
        self.schedule = schedule
        self.sampling_temperature = check_non_negative("temperature",
                                                       temperature)

    def __call__(self, step):
        sampling = self.schedule._position(step) >= (
            self.schedule._first_sampling)
        return ops.cast(sampling, "float32") * self.sampling_temperature

    def is_sampling(self, step):
        """The phase of step `step`, as `CyclicalSchedule.is_sampling`."""
        return self.schedule.is_sampling(step)

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(
                    self.schedule),
                "temperature": self.sampling_temperature}
