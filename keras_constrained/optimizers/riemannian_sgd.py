"""Riemannian SGD: gradient descent along the constraint's geometry."""

import keras
from keras import ops

from keras_constrained._validation import check_bool
from keras_constrained._validation import check_real
from keras_constrained.optimizers._docs import fill_keyword_args
from keras_constrained.optimizers.manifold_optimizer import ManifoldOptimizer


@keras.saving.register_keras_serializable(package="keras_constrained")
class RiemannianSGD(ManifoldOptimizer):
    """SGD with momentum that moves along each variable's constraint set.

    For a variable with a `keras_constrained` constraint the step uses the
    Riemannian gradient (the gradient's tangent part, `tangent(q, g)`), and
    the constraint's `move` (a retraction: the geodesic of `Sphere`, the
    SHAKE/RATTLE step of `Orthogonal`, the exact rotation of
    `MagnitudeBound`'s circles) lands the step on the set; the momentum is
    carried along to the new point. Without momentum:

    ```python
    g = constraint.tangent(w, gradient)
    w = constraint.move(w, -g, learning_rate)
    ```

    With momentum `mu`, `m = mu * m - learning_rate * g` and the step moves
    by `m` (by `mu * m - learning_rate * g` with `nesterov`); the momentum
    kept for the next step is the step's velocity at the landing point
    (`move`'s), or with `nesterov` `m` transported there (`transport`).

    Unlike stock SGD with the same constraint (which steps with the full
    gradient and projects the weights back), no momentum accumulates normal
    to the set. On variables without a manifold constraint this is
    `keras.optimizers.SGD(learning_rate, momentum, nesterov)` step for step.
    Decoupled `weight_decay` applies only to those.

    Args:
        learning_rate: float, schedule or callable.
        momentum: float in [0, 1), the momentum `mu`.
        nesterov: bool, whether to apply Nesterov momentum.
        name: the optimizer's name.
        {{base_optimizer_keyword_args}}
            `weight_decay` skips the variables with a manifold constraint.

    Example:

    ```python
    unit_norm = keras_constrained.constraints.Sphere(1.0)  # per unit
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(16, activation="tanh",
                           kernel_constraint=unit_norm),
        keras.layers.Dense(1)])
    optimizer = keras_constrained.optimizers.RiemannianSGD(
        0.05, momentum=0.9, nesterov=True)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(numpy.ones((32, 4)), numpy.zeros((32, 1)), verbose=0)
    ```

    References:
        Bonnabel. Stochastic gradient descent on Riemannian manifolds.
        IEEE Transactions on Automatic Control 58 (2013).
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False,
                 name="riemannian_sgd", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.momentum = check_real("momentum", momentum, 0.0, 1.0,
                                   exclusive_maximum=True)
        self.nesterov = check_bool("nesterov", nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()

    def integrate(self, geometry, q, slots, gradient, learning_rate):
        g = geometry.tangent(q, gradient)
        if not self.momentum:
            q_new, _ = geometry.move(q, -g, learning_rate)
            return q_new, slots
        # The operations and their order of `keras.optimizers.SGD`, so
        # that unconstrained variables take its steps exactly.
        momentum = ops.cast(self.momentum, q.dtype)
        m = slots["momentum"] * momentum - g * learning_rate
        if not self.nesterov:
            q_new, m_new = geometry.move(q, m, 1.0)
            return q_new, {"momentum": m_new}
        q_new, _ = geometry.move(q, m * momentum - g * learning_rate, 1.0)
        return q_new, {"momentum": geometry.transport(q, q_new, m)}

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum,
                       "nesterov": self.nesterov})
        return config


fill_keyword_args(RiemannianSGD)
