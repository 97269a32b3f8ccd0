"""Overdamped constrained Langevin dynamics (CoLA-od): constrained SGLD."""

import keras
from keras import ops

from keras_constrained.optimizers.constrained_langevin import (
    ConstrainedLangevin,
)


@keras.saving.register_keras_serializable(package="keras_constrained")
class OverdampedLangevin(ConstrainedLangevin):
    """Constrained stochastic-gradient Langevin dynamics (overdamped).

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
    variable and its optimizer state unchanged. Decoupled `weight_decay`
    applies only to variables without a manifold constraint (decaying a
    point on a manifold would only be undone by the landing); use a
    `kernel_regularizer` for an L2 force on constrained weights.

    Under torch, the step of a variable of at least `2**18` weights whose
    constraint has a closed-form step (all but `Orthogonal`) is compiled by
    `torch.compile` into one loop writing in place: the first step of each
    shape takes seconds to compile (torch caches the result on disk).

    Args:
        learning_rate: float, schedule or callable: the step size `h`.
        temperature: float >= 0, the temperature `T` of the sampled density.
        seed: int or None, seeds the optimizer's noise (per backend).
        **kwargs: the arguments of `keras.optimizers.Optimizer`
            (`clipnorm`, `gradient_accumulation_steps`, `weight_decay`,
            `loss_scale_factor`, `name`, ...).

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

    def integrate(self, geometry, q, state, gradient, h, noise):
        displacement = -h * gradient
        if noise is not None:
            displacement += ops.sqrt(2.0 * h * self.temperature) * noise
        q_new, _ = geometry.move(q, displacement, 1.0)
        return q_new, state
