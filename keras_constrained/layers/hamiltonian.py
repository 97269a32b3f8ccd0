"""Hamiltonian deep networks (H-DNNs): residual nets that are symplectic maps.

Galimberti, Furieri, Xu and Ferrari-Trecate, "Hamiltonian deep neural
networks guaranteeing non-vanishing gradients by design" (arXiv 2105.13205)
discretize the time-varying Hamiltonian system

    y' = J dH/dy,   H(y, t) = sum(s(K(t) y + b(t))),   J = -J^T,

whose vector field is `J K^T act(K y + b)` with `act = s'` (tanh for
`s = log cosh`). Each of the `depth` steps of size `h` has its own `K_j`,
`b_j`. The semi-implicit (symplectic Euler) discretization makes every
layer's Jacobian symplectic, so the backward sensitivities
`d y_N / d y_{N-l}` never have a norm below 1: gradients cannot vanish.
"""

import warnings

import keras
import numpy as np
from keras import ops

from keras_constrained._backend.ops import float32_or_wider
from keras_constrained._backend.ops import tanh
from keras_constrained._validation import check_choice
from keras_constrained._validation import check_instance
from keras_constrained._validation import check_integer
from keras_constrained._validation import check_non_negative
from keras_constrained._validation import check_positive
from keras_constrained._validation import check_square_matrix
from keras_constrained.constraints import SparsityMask
from keras_constrained.layers.hamiltonian_integrators import INTEGRATORS

# name: (activation act = s', its derivative). The Hamiltonian uses the
# antiderivative s: log cosh, softplus, relu^2 / 2, z^2 / 2.
_ACTIVATIONS = {
    "tanh": (tanh, lambda z: 1.0 - ops.square(tanh(z))),
    "sigmoid": (ops.sigmoid,
                lambda z: ops.sigmoid(z) * (1.0 - ops.sigmoid(z))),
    "relu": (ops.relu, lambda z: ops.cast(z > 0, z.dtype)),
    "linear": (lambda z: z, ops.ones_like),
}
# Deprecated argument names: their new names. `smoothness` collided with
# DSGD's `smoothness`, a Lipschitz constant.
_RENAMED = {"J": "interconnection", "X": "coupling",
            "smoothness": "smoothness_weight"}
_UNSET = object()


def _is_default(value, default):
    """Whether `value` is the default `default` (None, a str or a float),
    without comparing arrays."""
    return isinstance(value, type(default)) and value == default


def _renamed(old, value, new_value, default):
    """`new_value`, or the value of its deprecated name `old` if given."""
    new = _RENAMED[old]
    if value is _UNSET:
        return new_value
    if not _is_default(new_value, default):
        raise ValueError(f"`{old}` is the deprecated name of `{new}`; pass "
                         f"only `{new}`, received both {old} and {new}.")
    warnings.warn(f"`{old}` is deprecated; use `{new}`.", DeprecationWarning,
                  stacklevel=3)
    return value


@keras.saving.register_keras_serializable(package="keras_constrained")
class Hamiltonian(keras.layers.Layer):
    """A whole H-DNN of `depth` Hamiltonian steps on the last input axis.

    Every step `j` has its own kernel `K_j` and bias `b_j` (a time-varying
    Hamiltonian) and the step size `h = step_size`. The layer acts on the
    last axis only, so after a convolution it runs per position (the
    paper's image model). Integrators (state `y`, or `y = (p, q)` split in
    halves):

    - `"forward_euler"` (H1-DNN): `y += h J K^T act(K y + b)`, with
      `J = interconnection` the paper's `"J1"` (`[[0, I], [-I, 0]]`),
      `"J2"` (+1 above the diagonal, -1 below) or any skew-symmetric
      matrix. No gradient guarantee.
    - `"semi_implicit"` (H2-DNN, the default): `K = blockdiag(K_p, K_q)`,
      `J = [[0, -X^T], [X, 0]]` with `X = coupling` and the symplectic
      Euler update, p first: `p += -h X^T K_q^T act(K_q q + b_q)`, then
      `q += h X K_p^T act(K_p p + b_p)` with the new `p`. Every step's
      Jacobian `A` satisfies `A J A^T = J` and `det A = 1`, so
      `||d y_N / d y_{N-l}|| >= 1`. With `X = I` (default) this is exactly
      Chang et al.'s two-layer Hamiltonian network.
    - `"antisymmetric"`: Haber and Ruthotto's antisymmetric network,
      `y += h act(K y + b)` with `K = W - W^T`, forward Euler.
    - `"hamiltonian_inspired"`: Haber and Ruthotto's Hamiltonian-inspired
      network, `p += h act(K q + b_p)`, then `q += h act(-K^T p + b_q)`,
      one `K` per step.

    The last two are H-DNNs with a structured kernel and `J K^T = I` (the
    paper's Section on existing architectures).

    An input with fewer features `d` than `state_size` is embedded by
    zero padding: its features go to the state entries `input_indices`,
    by default the first `ceil(d/2)` and the last `floor(d/2)` (for 2-D
    points: the first entry of `p` and the last of `q`, as the paper's
    code does). The output is the final state, of size `state_size`.

    `kernel_mask` restricts each `K_j` (and `coupling`) to a sparsity
    pattern, e.g. `graph_pattern(...)` of a communication graph: every step
    then only exchanges information between neighbours (distributed
    forward and backward propagation). For `"semi_implicit"` it is the
    pattern of `K_p`, `K_q` and `X` (size `state_size / 2`), otherwise of
    `K`; for `"antisymmetric"` (`K = W - W^T`) it must be symmetric.

    Mixed precision: under a `mixed_float16` or `mixed_bfloat16` policy
    the weights are float32 and the steps run in the compute dtype, while
    the smoothness penalty, `step_jacobians` (and so `sensitivity_norms`)
    compute in float32.

    Args:
        depth: positive int, the number of steps (layers) `N`.
        step_size: positive float, `h`.
        integrator: one of `"forward_euler"`, `"semi_implicit"`,
            `"antisymmetric"`, `"hamiltonian_inspired"`.
        interconnection: `J` of `"forward_euler"`: `"J1"`, `"J2"` or a
            skew-symmetric `(n, n)` matrix. Formerly `J` (deprecated).
        coupling: `X` of `"semi_implicit"`, the `(n/2, n/2)` matrix of
            `J = [[0, -X^T], [X, 0]]`; `None` is the identity. Formerly `X`
            (deprecated).
        activation: `"tanh"` (`H` uses log cosh), `"sigmoid"` (softplus),
            `"relu"` (`relu^2 / 2`) or `"linear"` (`z^2 / 2`).
        state_size: int `n >= d`, or `None` for the input's feature count.
        input_indices: the `d` state entries that receive the input, or
            `None` for the default above.
        kernel_mask: 0/1 square matrix, or `None` for dense kernels.
        smoothness_weight: non-negative float `alpha`, the weight of the
            paper's regularizer against exploding gradients, added with
            `add_loss`: `alpha * smoothness_penalty()` =
            `alpha * h * sum_j (||K_{j+1} - K_j||^2 + ||b_{j+1} - b_j||^2)`.
            Formerly `smoothness` (deprecated: DSGD's `smoothness` is a
            Lipschitz constant).
        kernel_initializer: initializer of the `(depth, ...)` kernel;
            default `RandomNormal(stddev=1.0)` as in the paper's code.
        bias_initializer: same for the `(depth, n)` bias.
        kernel_regularizer, bias_regularizer: optional Keras regularizers.

    Example:

    ```python
    layer = keras_constrained.layers.Hamiltonian(
        depth=8, step_size=0.1, state_size=4)
    y = layer(numpy.ones((5, 2), "float32"))  # 2-D points in a 4-D state
    assert y.shape == (5, 4)
    ```
    """

    def __init__(self, depth, step_size, integrator="semi_implicit",
                 interconnection="J1", coupling=None, activation="tanh",
                 state_size=None, input_indices=None, kernel_mask=None,
                 smoothness_weight=0.0, kernel_initializer=None,
                 bias_initializer=None, kernel_regularizer=None,
                 bias_regularizer=None, *, J=_UNSET, X=_UNSET,
                 smoothness=_UNSET, **kwargs):
        super().__init__(**kwargs)
        interconnection = _renamed("J", J, interconnection, "J1")
        coupling = _renamed("X", X, coupling, None)
        smoothness_weight = _renamed("smoothness", smoothness,
                                     smoothness_weight, 0.0)
        depth = check_integer("depth", depth, 1)
        integrator = check_choice("integrator", integrator,
                                  tuple(INTEGRATORS))
        activation = check_choice("activation", activation,
                                  tuple(_ACTIVATIONS))
        if not (isinstance(interconnection, str)
                and interconnection in ("J1", "J2")):
            interconnection = check_square_matrix(
                "interconnection", interconnection,
                allowed="'J1', 'J2' or a skew-symmetric square matrix")
            if not np.allclose(interconnection, -interconnection.T):
                raise ValueError(
                    "`interconnection` must be 'J1', 'J2' or skew-symmetric "
                    "(J == -J^T); received an interconnection J with "
                    "max|J + J^T| = "
                    f"{np.abs(interconnection + interconnection.T).max():g}.")
        coupling = check_square_matrix("coupling", coupling, optional=True)
        for argument, value, default in (
                ("interconnection", interconnection, "J1"),
                ("coupling", coupling, None)):
            if not _is_default(value, default) and (
                    argument not in INTEGRATORS[integrator].arguments):
                owner = next(name for name, cls in INTEGRATORS.items()
                             if argument in cls.arguments)
                raise ValueError(
                    f"`{argument}` applies only to integrator={owner!r}; "
                    f"received {argument} with integrator={integrator!r}.")
        state_size = check_integer("state_size", state_size, 1, optional=True)
        if (state_size is not None and INTEGRATORS[integrator].split
                and state_size % 2):
            raise ValueError(
                f"`state_size` must be even for integrator={integrator!r} "
                f"(the state splits into halves p, q); received "
                f"state_size={state_size}.")
        self.smoothness_weight = check_non_negative("smoothness_weight",
                                                    smoothness_weight)
        self.depth = depth
        self.step_size = check_positive("step_size", step_size)
        self.integrator = integrator
        self.interconnection = interconnection
        self.coupling = coupling
        self.activation = activation
        self.state_size = state_size
        if input_indices is not None:
            allowed = "None or a list of state entries (ints >= 0)"
            input_indices = [
                check_integer("input_indices", i, 0, allowed=allowed)
                for i in check_instance("input_indices", input_indices,
                                        (list, tuple, np.ndarray), allowed)]
        self.input_indices = input_indices
        kernel_mask = check_square_matrix(
            "kernel_mask", kernel_mask, optional=True,
            allowed="None or a square 0/1 matrix")
        self.kernel_mask = (None if kernel_mask is None
                            else SparsityMask(kernel_mask).mask)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=1.0))
        self.bias_initializer = keras.initializers.get(
            bias_initializer or keras.initializers.RandomNormal(stddev=1.0))
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def build(self, input_shape):
        d = input_shape[-1]
        n = self.state_size or d
        integrator = INTEGRATORS[self.integrator]
        if integrator.split and n % 2:
            raise ValueError(
                f"The state size must be even for integrator="
                f"{self.integrator!r} (it splits into halves p, q); "
                f"received inputs with {d} features and state_size="
                f"{self.state_size}.")
        if d > n:
            raise ValueError(f"`state_size`={n} must be at least the input's "
                             f"feature count {d}.")
        indices = self.input_indices
        if indices is None:
            indices = list(range((d + 1) // 2)) + list(range(n - d // 2, n))
        if (len(indices) != d or len(set(indices)) != d
                or not all(0 <= i < n for i in indices)):
            raise ValueError(
                f"`input_indices` must be {d} distinct state entries in "
                f"[0, {n}); received input_indices={self.input_indices}.")
        self.n = n
        self.embedding = np.eye(n)[indices] if d < n else None
        # The integrator object: kernel shapes, steps and their Jacobians.
        self._scheme = integrator(
            n, self.step_size,
            **{argument: getattr(self, argument)
               for argument in integrator.arguments})
        kernel_shape = self._scheme.kernel_shape(self.depth)
        constraint = None
        if self.kernel_mask is not None:
            block = self._scheme.block
            if self.kernel_mask.shape != (block, block):
                raise ValueError(
                    f"`kernel_mask` must have shape {(block, block)} for "
                    f"integrator={self.integrator!r} and state size {n}; "
                    f"received kernel_mask of shape "
                    f"{self.kernel_mask.shape}.")
            self._scheme.check_mask(self.kernel_mask)
            constraint = SparsityMask(
                np.broadcast_to(self.kernel_mask, kernel_shape))
        # Not autocast: every use casts them to the dtype it computes in,
        # which is float32 for the smoothness penalty and the Jacobians.
        self.kernel = self.add_weight(
            shape=kernel_shape, initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=constraint,
            name="kernel", autocast=False)
        self.bias = self.add_weight(
            shape=(self.depth, n), initializer=self.bias_initializer,
            regularizer=self.bias_regularizer, name="bias", autocast=False)

    def _float32_or_wider(self):
        """The dtype of the numerically sensitive parts: the compute dtype,
        or float32 under a mixed-precision policy."""
        return float32_or_wider(self.compute_dtype)

    def _masked_kernel(self, dtype):
        """The kernel in `dtype`, zero outside `kernel_mask`."""
        kernel = ops.cast(self.kernel, dtype)
        if self.kernel_mask is not None:
            kernel = kernel * ops.convert_to_tensor(self.kernel_mask, dtype)
        return kernel

    def _steps(self, dtype):
        """The integrator's per-step weights in `dtype`, from the kernel as
        used (masked, antisymmetrized where asked)."""
        return self._scheme.steps(self._scheme.kernel(
            self._masked_kernel(dtype)), ops.cast(self.bias, dtype))

    def embed(self, inputs, dtype=None):
        """The initial state `y_0` of shape `(B, n)`: the inputs `(B, d)`,
        zero-padded to the state, in `dtype` (`None`: the compute dtype)."""
        dtype = dtype or self.compute_dtype
        inputs = ops.cast(inputs, dtype)
        if self.embedding is None:
            return inputs
        return ops.einsum("bi,ik->bk", inputs,
                          ops.convert_to_tensor(self.embedding, dtype))

    def states(self, inputs, every_step=True, dtype=None):
        """The states `y_0, ..., y_N`, or only `[y_N]` if not `every_step`
        (then `p`, `q` are joined only once), computed in `dtype` (`None`:
        the layer's compute dtype, as in `call`).

        The inputs' leading axes are flattened into one batch axis `B`, so
        each returned state has shape `(B, n)`. Inside, the state is carried
        transposed, `(n, B)`, so that every product is a small `(n, n)`
        kernel times a wide `(n, B)` matrix: for the small `n` of these
        layers the CPU matmuls of all three backends are faster that way
        round than for `(B, n)` times `(n, n)` (benchmarks/README.md,
        hamiltonian.py).
        """
        inputs = ops.reshape(inputs, (-1, ops.shape(inputs)[-1]))
        act = _ACTIVATIONS[self.activation][0]
        dtype = dtype or self.compute_dtype
        steps = self._steps(dtype)
        y = ops.transpose(self.embed(inputs, dtype))
        ys = [y] if every_step else []
        state = self._scheme.start(y)
        for j in range(self.depth):
            state = self._scheme.step(state, steps[j], act)
            if every_step or j == self.depth - 1:
                ys.append(self._scheme.join(state))
        return [ops.transpose(y) for y in ys]

    def smoothness_penalty(self):
        """`h * sum_j (||K_{j+1} - K_j||^2 + ||b_{j+1} - b_j||^2)`, in
        float32 under a mixed-precision policy."""
        dtype = self._float32_or_wider()
        kernel = self._masked_kernel(dtype)
        bias = ops.cast(self.bias, dtype)
        return self.step_size * (
            ops.sum(ops.square(kernel[1:] - kernel[:-1]))
            + ops.sum(ops.square(bias[1:] - bias[:-1])))

    def call(self, inputs):
        if self.smoothness_weight:
            self.add_loss(self.smoothness_weight * self.smoothness_penalty())
        return ops.reshape(self.states(inputs, every_step=False)[0],
                           (*ops.shape(inputs)[:-1], self.n))

    def step_jacobians(self, inputs):
        """Per-sample Jacobians `A_j = d y_{j+1} / d y_j`, in closed form.

        Built from the step's weights and `act'` with `keras.ops` only (no
        autodiff), so it runs on every backend. The inputs' leading axes
        are flattened into one batch axis `B`. States and Jacobians are
        computed in float32 under a mixed-precision policy (in the compute
        dtype otherwise).

        Returns:
            A tensor of shape `(depth, B, n, n)`; row `i`, column `k` of
            `A_j` is `d y_{j+1}[i] / d y_j[k]`.
        """
        dact = _ACTIVATIONS[self.activation][1]
        dtype = self._float32_or_wider()
        ys = self.states(inputs, dtype=dtype)
        steps = self._steps(dtype)
        return ops.stack([
            self._scheme.jacobian(ys[j], ys[j + 1], steps[j], dact)
            for j in range(self.depth)])

    def get_config(self):
        config = super().get_config()
        as_list = lambda a: None if a is None else np.asarray(a).tolist()
        config.update({
            "depth": self.depth,
            "step_size": self.step_size,
            "integrator": self.integrator,
            "interconnection": (
                self.interconnection if isinstance(self.interconnection, str)
                else as_list(self.interconnection)),
            "coupling": as_list(self.coupling),
            "activation": self.activation,
            "state_size": self.state_size,
            "input_indices": self.input_indices,
            "kernel_mask": as_list(self.kernel_mask),
            "smoothness_weight": self.smoothness_weight,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(
                self.bias_regularizer),
        })
        return config

    @classmethod
    def from_config(cls, config):
        # Configs saved before the renaming load without a warning.
        return super().from_config(
            {_RENAMED.get(key, key): value for key, value in config.items()})

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.state_size or input_shape[-1])
