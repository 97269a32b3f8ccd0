"""Riemannian Adam (Bécigneul and Ganea, 2019) on the constraints' sets."""

import keras
from keras import ops

from keras_constrained._backend.ops import maximum
from keras_constrained._validation import check_bool
from keras_constrained._validation import check_positive
from keras_constrained._validation import check_real
from keras_constrained.optimizers._docs import fill_keyword_args
from keras_constrained.optimizers.manifold_optimizer import ManifoldOptimizer


@keras.saving.register_keras_serializable(package="keras_constrained")
class RiemannianAdam(ManifoldOptimizer):
    """Adam that moves along each variable's constraint set.

    Riemannian Adam of Bécigneul and Ganea (2019) on the constraint's
    geometry. Each step, with `g = tangent(w, gradient)` the Riemannian
    gradient and `t` the step count:

    ```python
    m = beta_1 * m + (1 - beta_1) * g          # tangent at w
    v = beta_2 * v + (1 - beta_2) * g**2       # per component
    alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    d = tangent(w, alpha * m / (sqrt(v) + epsilon))
    w_new = constraint.move(w, -d, 1.0)        # lands on the set
    m = transport(w, w_new, m)                 # tangent at w_new
    ```

    The second moment `v` has one component per coordinate of the set:
    per weight for `Sphere`, `Orthogonal` and `SparsityMask` (as geoopt's
    `RiemannianAdam` on its sphere and Stiefel manifolds), per circle
    coordinate (the arc length) for `MagnitudeBound`. Dividing by it
    leaves the tangent space, so the direction `d` is projected back onto
    it before `move`. The bias correction counts the optimizer's
    `iterations` once per step, as Keras' `Adam` does. A batch whose
    gradient for a variable is not finite leaves that variable and its
    moments as they were; it counts in `iterations` all the same.

    Unlike stock Adam with the same constraint (which steps with the full
    gradient and projects the weights back), no moment fills with
    components normal to the set. On variables without a manifold
    constraint this is `keras.optimizers.Adam` step for step, and with
    `weight_decay` `keras.optimizers.AdamW`: decoupled weight decay applies
    only to variables without a manifold constraint.

    Args:
        learning_rate: float, schedule or callable.
        beta_1: float in [0, 1), the decay of the first moment.
        beta_2: float in [0, 1), the decay of the second moment.
        epsilon: float > 0, added to `sqrt(v)`.
        amsgrad: bool, whether to divide by the largest `v` so far
            (Reddi et al., 2018).
        name: the optimizer's name.
        {{base_optimizer_keyword_args}}
            `weight_decay` skips the variables with a manifold constraint.

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        3, kernel_constraint=keras_constrained.constraints.Orthogonal())])
    model.compile(optimizer=keras_constrained.optimizers.RiemannianAdam(),
                  loss="mse")
    model.fit(numpy.ones((8, 4)), numpy.zeros((8, 3)), verbose=0)
    ```

    References:
        Bécigneul, Ganea. Riemannian adaptive optimization methods.
        ICLR 2019, arXiv:1810.00760.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name="riemannian_adam",
                 **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1 = check_real("beta_1", beta_1, 0.0, 1.0,
                                 exclusive_maximum=True)
        self.beta_2 = check_real("beta_2", beta_2, 0.0, 1.0,
                                 exclusive_maximum=True)
        self.epsilon = check_positive("epsilon", epsilon)
        self.amsgrad = check_bool("amsgrad", amsgrad)
        self.slot_names = ("momentum", "velocity") + (
            ("velocity_hat",) if self.amsgrad else ())

    def step_inputs(self, q, dtype):
        return {"step": ops.cast(self.iterations + 1, dtype)}

    def integrate(self, geometry, q, slots, gradient, learning_rate, step):
        # The operations and their order of `keras.optimizers.Adam`, so
        # that unconstrained variables take its steps exactly.
        g = geometry.tangent(q, gradient)
        beta_1_power = ops.power(ops.cast(self.beta_1, q.dtype), step)
        beta_2_power = ops.power(ops.cast(self.beta_2, q.dtype), step)
        alpha = learning_rate * ops.sqrt(1 - beta_2_power) / (
            1 - beta_1_power)
        m = slots["momentum"] + (g - slots["momentum"]) * (1 - self.beta_1)
        v = slots["velocity"] + (
            ops.square(g) - slots["velocity"]) * (1 - self.beta_2)
        new_slots = {"velocity": v}
        if self.amsgrad:
            v = maximum(slots["velocity_hat"], v)
            new_slots["velocity_hat"] = v
        direction = geometry.tangent(
            q, (m * alpha) / (ops.sqrt(v) + self.epsilon))
        q_new, _ = geometry.move(q, -direction, 1.0)
        new_slots["momentum"] = geometry.transport(q, q_new, m)
        return q_new, new_slots

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2,
                       "epsilon": self.epsilon, "amsgrad": self.amsgrad})
        return config


fill_keyword_args(RiemannianAdam)
