"""What the constrained Langevin optimizers share: the temperature and the
noise it needs. The integrators themselves live in `overdamped_langevin.py`
and `underdamped_langevin.py`; the geometry in `manifold_optimizer.py`."""

import keras

from keras_constrained._validation import check_integer
from keras_constrained._validation import check_non_negative
from keras_constrained.optimizers.manifold_optimizer import ManifoldOptimizer


class ConstrainedLangevin(ManifoldOptimizer):
    """Base class of the Langevin optimizers (not for direct use).

    A `ManifoldOptimizer` whose `integrate(geometry, q, slots, gradient,
    h, noise=None)` takes the step size `h` and, at a positive
    temperature, a standard Gaussian `noise` of `q`'s shape (None at
    temperature 0, where no noise is drawn).
    """

    def __init__(self, learning_rate, temperature=0.0, seed=None, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.temperature = check_non_negative("temperature", temperature)
        self.seed = check_integer("seed", seed, optional=True)
        self._seed_generator = keras.random.SeedGenerator(self.seed)
        # Tracked as an optimizer variable, so the noise advances under
        # JAX's jit and is saved with the optimizer.
        self._seed_state = self._seed_generator.state

    def step_inputs(self, q, dtype):
        if self.temperature == 0:
            return {}
        return {"noise": keras.random.normal(keras.ops.shape(q), dtype=dtype,
                                             seed=self._seed_generator)}

    def get_config(self):
        config = super().get_config()
        config.update({"temperature": self.temperature, "seed": self.seed})
        return config
