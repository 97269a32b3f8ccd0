"""Overdamped constrained Langevin dynamics (CoLA-od): constrained SGLD."""

import keras
from keras import ops

from keras_constrained._validation import check_positive
from keras_constrained.optimizers._docs import fill_keyword_args
from keras_constrained.optimizers.constrained_langevin import (
    ConstrainedLangevin,
)


@keras.saving.register_keras_serializable(package="keras_constrained")
class OverdampedLangevin(ConstrainedLangevin):
    """Constrained SGLD (overdamped); `learning_rate` is the time step h.

    Here `h` is also SGD's learning rate: unconstrained at temperature 0
    this is `keras.optimizers.SGD(h)`. `OverdampedLangevin.from_sgd(lr)`
    builds it with its arguments checked; for SGD with momentum, see
    `UnderdampedLangevin.from_sgd`.

    Each step of size `h = learning_rate` moves every variable by

    ```python
    d = -h * gradient + sqrt(2 * h * temperature) * normal()
    w = constraint.move(w, d, 1.0)   # lands on the set (SHAKE / geodesic)
    ```

    the projected Euler-Maruyama scheme of Leimkuhler et al. (CoLA-od). For a
    variable whose constraint is a `keras_constrained` constraint, `move` is
    that constraint's position step (only the tangent part of `d` moves it);
    for any other variable it is `w + d` (plain SGLD). At `temperature=0` no
    noise is drawn and this is SGD (projected along the constraint's normal):
    `OverdampedLangevin(lr)` takes exactly the steps of
    `keras.optimizers.SGD(lr)` on unconstrained variables.

    At `temperature > 0` it samples (as `h -> 0`) the density proportional
    to `exp(-loss / temperature)` on the constraint set, where `loss` is the
    minibatch-mean training loss Keras minimizes.

    A step whose gradient for a variable holds inf or NaN leaves that
    variable and its optimizer state unchanged (`iterations` counts the
    batch all the same, as in `DSGD` and Keras' optimizers, and at
    `temperature > 0` the batch's noise is drawn). Decoupled `weight_decay`
    applies only to variables without a manifold constraint (decaying a
    point on a manifold would only be undone by the landing); use a
    `kernel_regularizer` for an L2 force on constrained weights.

    With `use_ema=True`, Keras' moving average of the weights overwrites
    them every `ema_overwrite_frequency` steps and at the end of `fit`
    (`finalize_variable_values`). The average of points of a curved set
    (`Orthogonal`, `Sphere`) lies off it: the overwritten weights are
    projected onto their sets (the extrinsic mean), and the dynamics go on
    from there.

    `learning_rate` is read at every step: callbacks that set it
    (`LearningRateScheduler`, `ReduceLROnPlateau`) change `h` from the next
    step on.

    Under torch, the step of a variable of at least `2**18` weights whose
    constraint has a closed-form step (all but `Orthogonal`) is compiled by
    `torch.compile` into one loop writing in place: the first step of each
    shape takes seconds to compile (torch caches the result on disk).

    Args:
        learning_rate: float, schedule or callable: the time step `h`
            (SGD's learning rate).
        {{langevin_temperature_arg}}
        {{langevin_seed_and_keyword_args}}

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(
            3, kernel_constraint=keras_constrained.constraints.Sphere(1.0))])
    model.compile(
        optimizer=keras_constrained.optimizers.OverdampedLangevin(
            0.1, temperature=1e-4, seed=0),
        loss="mse")
    model.fit(numpy.ones((32, 4)), numpy.zeros((32, 3)), verbose=0)
    ```

    References:
        Leimkuhler, Pouchon, Vlaar, Storkey. Constraint-based
        regularization of neural networks. arXiv:2006.10114 (2020).
    """

    def __init__(self, learning_rate=0.01, temperature=0.0, seed=None,
                 name="overdamped_langevin", **kwargs):
        super().__init__(learning_rate=learning_rate, temperature=temperature,
                         seed=seed, name=name, **kwargs)

    @classmethod
    def from_sgd(cls, learning_rate, temperature=0.0, **kwargs):
        """The optimizer that takes the steps of `keras.optimizers.SGD`.

        At `temperature=0` on variables without a manifold constraint,
        `OverdampedLangevin.from_sgd(lr, ...)` takes exactly the steps of
        `keras.optimizers.SGD(lr, ...)`: it is `OverdampedLangevin(lr,
        ...)`, the time step being SGD's learning rate (and so decoupled
        `weight_decay` too matches SGD's). At `temperature > 0` it samples
        `exp(-loss / temperature)` (see `posterior_temperature`). The
        result is an ordinary `OverdampedLangevin`.

        Args:
            learning_rate: float > 0, SGD's learning rate.
            temperature: float >= 0, as in the constructor.
            **kwargs: the constructor's other arguments (`seed`,
                `clipnorm`, `weight_decay`, `name`, ...).

        Example:

        ```python
        optimizer = keras_constrained.optimizers.OverdampedLangevin.from_sgd(
            0.05, temperature=1e-4, seed=0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(numpy.ones((32, 4)), numpy.zeros((32, 3)), verbose=0)
        ```
        """
        return cls(check_positive("learning_rate", learning_rate),
                   temperature=temperature, **kwargs)

    def integrate(self, geometry, q, slots, gradient, h, noise=None,
                  temperature=None):
        displacement = -h * gradient
        if noise is not None:
            temperature = self._current_temperature(temperature)
            displacement += ops.sqrt(2.0 * h * temperature) * noise
        q_new, _ = geometry.move(q, displacement, 1.0)
        return q_new, slots


fill_keyword_args(OverdampedLangevin)
