"""What the constrained Langevin optimizers share: the temperature and the
noise it needs. The integrators themselves live in `overdamped_langevin.py`
and `underdamped_langevin.py`; the geometry in `manifold_optimizer.py`."""

import keras

from keras_constrained._validation import check_integer
from keras_constrained._validation import check_non_negative
from keras_constrained.optimizers.manifold_optimizer import ManifoldOptimizer

_Schedule = keras.optimizers.schedules.LearningRateSchedule


def check_temperature(value):
    """The `temperature` of a Langevin optimizer: a finite `float >= 0`, or
    a `keras.optimizers.schedules.LearningRateSchedule`, returned as it
    is."""
    if isinstance(value, _Schedule):
        return value
    return check_non_negative(
        "temperature", value,
        allowed="a finite number >= 0 or a keras.optimizers.schedules."
                "LearningRateSchedule")


class ConstrainedLangevin(ManifoldOptimizer):
    """Base class of the Langevin optimizers (not for direct use).

    A `ManifoldOptimizer` whose `integrate(geometry, q, slots, gradient,
    h, noise=None, temperature=None)` takes the step size `h` and, at a
    positive temperature, a standard Gaussian `noise` of `q`'s shape (None
    at a float temperature 0, where no noise is drawn).

    `temperature` is a float or a
    `keras.optimizers.schedules.LearningRateSchedule` of the step. A
    schedule is evaluated at every step from `iterations` (inside the
    compiled train step), its value is passed to `integrate` as the tensor
    `temperature`, and noise is drawn at every step (the schedule may be
    positive). With a float, `integrate` gets no `temperature` and reads
    `self.temperature`.
    """

    def __init__(self, learning_rate, temperature=0.0, seed=None, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.temperature = check_temperature(temperature)
        self.seed = check_integer("seed", seed, optional=True)
        self._seed_generator = keras.random.SeedGenerator(self.seed)
        # Tracked as an optimizer variable, so the noise advances under
        # JAX's jit and is saved with the optimizer.
        self._seed_state = self._seed_generator.state

    def step_inputs(self, q, dtype):
        scheduled = isinstance(self.temperature, _Schedule)
        if not scheduled and self.temperature == 0:
            return {}
        inputs = {"noise": keras.random.normal(
            keras.ops.shape(q), dtype=dtype, seed=self._seed_generator)}
        if scheduled:
            inputs["temperature"] = keras.ops.cast(
                self.temperature(self.iterations), dtype)
        return inputs

    def _current_temperature(self, temperature):
        """The temperature of this step: the scheduled tensor, if given."""
        return self.temperature if temperature is None else temperature

    def get_config(self):
        config = super().get_config()
        temperature = self.temperature
        if isinstance(temperature, _Schedule):
            temperature = keras.optimizers.schedules.serialize(temperature)
        config.update({"temperature": temperature, "seed": self.seed})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("temperature"), dict):
            config["temperature"] = keras.optimizers.schedules.deserialize(
                config["temperature"], custom_objects=custom_objects)
        return super().from_config(config, custom_objects=custom_objects)
