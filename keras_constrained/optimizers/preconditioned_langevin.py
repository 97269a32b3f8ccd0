"""Preconditioned SGLD (Li, Chen, Carlson, Carin, 2016): RMSprop's
diagonal preconditioner in overdamped Langevin dynamics."""

import keras
from keras import ops

from keras_constrained._validation import check_positive
from keras_constrained._validation import check_real
from keras_constrained.constraints.base import ManifoldConstraint
from keras_constrained.optimizers._docs import fill_keyword_args
from keras_constrained.optimizers.constrained_langevin import (
    ConstrainedLangevin,
)


@keras.saving.register_keras_serializable(package="keras_constrained")
class PreconditionedLangevin(ConstrainedLangevin):
    """Preconditioned SGLD (pSGLD); `learning_rate` is the time step h.

    Overdamped Langevin dynamics with RMSprop's diagonal preconditioner
    (Li et al., 2016): each coordinate moves at a speed scaled by its
    gradients' running root mean square, so flat and steep directions mix
    alike. With step `h = learning_rate` and temperature `T`, each step is

    ```python
    g = tangent(w, gradient)
    v = rho * v + (1 - rho) * g**2                # per coordinate
    G = 1 / (epsilon + sqrt(v))                   # the preconditioner
    d = -h * G * g + sqrt(2 * h * T * G) * normal()
    w = constraint.move(w, d, 1.0)                # lands on the set
    ```

    At `temperature=0` it is RMSprop without momentum (with the paper's
    `epsilon + sqrt(v)` where Keras' `RMSprop` has `sqrt(v + epsilon)`).

    **The dropped correction term.** With a preconditioner `G(w)` the
    dynamics sample `exp(-loss / T)` exactly only with the extra drift
    `h * T * dG/dw` (`Gamma` in the paper). As in the paper it is dropped:
    it vanishes where the preconditioner is constant (`rho=1` keeps `v` at
    its current value, 0 from the start, so `G = 1 / epsilon`) and is of
    order `1 - rho` otherwise, since `v` changes by that fraction per step.

    **Scaling.** Keras minimizes the mean loss; the paper writes the sum
    over `N` examples. With `T = posterior_temperature(N)` (`1 / N`), this
    is the paper's update with step size `2 * h` and `lambda = N *
    epsilon`.

    **Constraints.** The preconditioner scales coordinate by coordinate,
    which keeps a step on the set only where the tangent projection acts on
    each coordinate alone: unconstrained variables, `MagnitudeBound` (per
    arc length on its circles) and `SparsityMask`. On `Orthogonal` or
    `Sphere` a coordinate-wise scaling turns a tangent vector off the
    tangent space and changes the measure the noise samples, so `build()`
    raises a `ValueError` for them; use `OverdampedLangevin` or
    `UnderdampedLangevin` there.

    The preconditioner starts at `v = 0` (as in the paper): where the first
    gradients are tiny, the first steps are large. A burn-in (for example
    `PosteriorSampler(burn_in=...)`) leaves them out of the samples.

    A step whose gradient for a variable holds inf or NaN leaves that
    variable and its `v` unchanged. Decoupled `weight_decay` applies only
    to variables without a manifold constraint.

    Args:
        learning_rate: float, schedule or callable: the time step `h`
            (RMSprop's learning rate).
        rho: float in `[0, 1]`, the decay of the running mean of squared
            gradients (the paper's `alpha`); 1 freezes it.
        epsilon: float > 0, added to the root mean square (the paper's
            `lambda`, for a mean rather than a summed loss).
        {{langevin_temperature_arg}}
        {{langevin_seed_and_keyword_args}}

    Example:

    ```python
    mask = numpy.tri(4, 3)  # a lower-triangular kernel
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(3, kernel_constraint=(
            keras_constrained.constraints.SparsityMask(mask)))])
    x, y = numpy.ones((32, 4)), numpy.zeros((32, 3))
    sampler = keras_constrained.optimizers.PreconditionedLangevin(
        1e-3, temperature=keras_constrained.optimizers.posterior_temperature(
            len(x)), seed=0)  # the Bayesian posterior of the mean loss
    model.compile(optimizer=sampler, loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    assert numpy.all(model.layers[0].kernel.numpy()[mask == 0] == 0)
    ```

    References:
        Li, Chen, Carlson, Carin. Preconditioned stochastic gradient
        Langevin dynamics for deep neural networks. AAAI 2016,
        arXiv:1512.07666.
    """

    slot_names = ("velocity",)

    def __init__(self, learning_rate=0.001, rho=0.99, epsilon=1e-7,
                 temperature=0.0, seed=None,
                 name="preconditioned_langevin", **kwargs):
        super().__init__(learning_rate=learning_rate, temperature=temperature,
                         seed=seed, name=name, **kwargs)
        self.rho = check_real("rho", rho, 0.0, 1.0)
        self.epsilon = check_positive("epsilon", epsilon)

    def build(self, variables):
        for variable in variables:
            constraint = variable.constraint
            if (isinstance(constraint, ManifoldConstraint)
                    and not constraint.elementwise):
                raise ValueError(
                    f"PreconditionedLangevin cannot precondition the "
                    f"variable {variable.path!r}: its constraint "
                    f"{type(constraint).__name__} couples its weights (its "
                    "tangent projection is not coordinate by coordinate), so "
                    "a diagonal preconditioner would turn steps off the set "
                    "and bias the noise. Allowed: no constraint, "
                    "MagnitudeBound, SparsityMask, or any constraint with "
                    "`elementwise = True`; use OverdampedLangevin or "
                    "UnderdampedLangevin for this one.")
        super().build(variables)

    def integrate(self, geometry, q, slots, gradient, h, noise=None,
                  temperature=None):
        g = geometry.tangent(q, gradient)
        v = slots["velocity"] + (ops.square(g) - slots["velocity"]) * (
            1.0 - self.rho)
        preconditioner = 1.0 / (self.epsilon + ops.sqrt(v))
        displacement = -h * preconditioner * g
        if noise is not None:
            temperature = self._current_temperature(temperature)
            displacement += ops.sqrt(
                2.0 * h * temperature * preconditioner) * noise
        q_new, _ = geometry.move(q, displacement, 1.0)
        return q_new, {"velocity": v}

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config


fill_keyword_args(PreconditionedLangevin)
