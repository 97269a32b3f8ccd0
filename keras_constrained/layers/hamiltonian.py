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

import keras
import numpy as np
from keras import ops

from keras_constrained._ops import float32_or_wider
from keras_constrained._ops import tanh
from keras_constrained._validation import check_choice
from keras_constrained._validation import check_instance
from keras_constrained._validation import check_integer
from keras_constrained._validation import check_non_negative
from keras_constrained._validation import check_positive
from keras_constrained._validation import check_square_matrix
from keras_constrained.constraints import SparsityMask

# name: (activation act = s', its derivative). The Hamiltonian uses the
# antiderivative s: log cosh, softplus, relu^2 / 2, z^2 / 2.
_ACTIVATIONS = {
    "tanh": (tanh, lambda z: 1.0 - ops.square(tanh(z))),
    "sigmoid": (ops.sigmoid,
                lambda z: ops.sigmoid(z) * (1.0 - ops.sigmoid(z))),
    "relu": (ops.relu, lambda z: ops.cast(z > 0, z.dtype)),
    "linear": (lambda z: z, ops.ones_like),
}
_INTEGRATORS = ("forward_euler", "semi_implicit", "antisymmetric",
                "hamiltonian_inspired")
_SPLIT = ("semi_implicit", "hamiltonian_inspired")  # state is (p, q)


def _times(matrix, state):
    """`matrix @ state` for a state carried as `(features, batch)`.

    An `einsum`, not `ops.matmul`: in Keras 3.15 the torch backend's
    `matmul` returns float32 for float64 operands (its dtype promotion
    yields float32), which would break float64 computations.
    """
    return ops.einsum("kl,lb->kb", matrix, state)


def _canonical_j(n, name):
    """The paper's interconnection matrices `J1`, `J2` of size `n`."""
    if name == "J1":  # [[0, I], [-I, 0]]
        if n % 2:
            raise ValueError(
                f"`J`='J1' needs an even state size; received state size {n}.")
        m = n // 2
        return np.block([[np.zeros((m, m)), np.eye(m)],
                         [-np.eye(m), np.zeros((m, m))]])
    # J2: +1 above the diagonal, -1 below it.
    return np.triu(np.ones((n, n)), 1) - np.tril(np.ones((n, n)), -1)


@keras.saving.register_keras_serializable(package="keras_constrained")
class Hamiltonian(keras.layers.Layer):
    """A whole H-DNN of `depth` Hamiltonian steps on the last input axis.

    Every step `j` has its own kernel `K_j` and bias `b_j` (a time-varying
    Hamiltonian) and the step size `h = step_size`. The layer acts on the
    last axis only, so after a convolution it runs per position (the
    paper's image model). Integrators (state `y`, or `y = (p, q)` split in
    halves):

    - `"forward_euler"` (H1-DNN): `y += h J K^T act(K y + b)`, with `J` the
      paper's `"J1"` (`[[0, I], [-I, 0]]`), `"J2"` (+1 above the diagonal,
      -1 below) or any skew-symmetric matrix. No gradient guarantee.
    - `"semi_implicit"` (H2-DNN, the default): `K = blockdiag(K_p, K_q)`,
      `J = [[0, -X^T], [X, 0]]` and the symplectic Euler update, p first:
      `p += -h X^T K_q^T act(K_q q + b_q)`, then
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

    `kernel_mask` restricts each `K_j` (and `X`) to a sparsity pattern,
    e.g. `graph_pattern(...)` of a communication graph: every step then
    only exchanges information between neighbours (distributed forward and
    backward propagation). For `"semi_implicit"` it is the pattern of
    `K_p`, `K_q` and `X` (size `state_size / 2`), otherwise of `K`; for
    `"antisymmetric"` (`K = W - W^T`) it must be symmetric.

    Mixed precision: under a `mixed_float16` or `mixed_bfloat16` policy
    the weights are float32 and the steps run in the compute dtype, while
    the smoothness penalty, `step_jacobians` (and so `sensitivity_norms`)
    compute in float32.

    Args:
        depth: positive int, the number of steps (layers) `N`.
        step_size: positive float, `h`.
        integrator: one of `"forward_euler"`, `"semi_implicit"`,
            `"antisymmetric"`, `"hamiltonian_inspired"`.
        J: `"J1"`, `"J2"` or a skew-symmetric `(n, n)` matrix; only for
            `"forward_euler"`.
        X: `(n/2, n/2)` matrix of `J = [[0, -X^T], [X, 0]]`, only for
            `"semi_implicit"`; `None` is the identity.
        activation: `"tanh"` (`H` uses log cosh), `"sigmoid"` (softplus),
            `"relu"` (`relu^2 / 2`) or `"linear"` (`z^2 / 2`).
        state_size: int `n >= d`, or `None` for the input's feature count.
        input_indices: the `d` state entries that receive the input, or
            `None` for the default above.
        kernel_mask: 0/1 square matrix, or `None` for dense kernels.
        smoothness: non-negative float `alpha` of the paper's regularizer
            against exploding gradients, added with `add_loss`:
            `alpha * h * sum_j (||K_{j+1} - K_j||^2 + ||b_{j+1} - b_j||^2)`.
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

    def __init__(self, depth, step_size, integrator="semi_implicit", J="J1",
                 X=None, activation="tanh", state_size=None,
                 input_indices=None, kernel_mask=None, smoothness=0.0,
                 kernel_initializer=None, bias_initializer=None,
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        depth = check_integer("depth", depth, 1)
        integrator = check_choice("integrator", integrator, _INTEGRATORS)
        activation = check_choice("activation", activation,
                                  tuple(_ACTIVATIONS))
        if not (isinstance(J, str) and J in ("J1", "J2")):
            J = check_square_matrix(
                "J", J, allowed="'J1', 'J2' or a skew-symmetric square "
                                "matrix")
            if not np.allclose(J, -J.T):
                raise ValueError("`J` must be 'J1', 'J2' or skew-symmetric "
                                 "(J == -J^T); received a J with "
                                 f"max|J + J^T| = {np.abs(J + J.T).max():g}.")
        if not (isinstance(J, str) and J == "J1") and (
                integrator != "forward_euler"):
            raise ValueError("`J` applies only to integrator='forward_euler'"
                             f"; received J with integrator={integrator!r}.")
        if X is not None and integrator != "semi_implicit":
            raise ValueError("`X` applies only to integrator='semi_implicit';"
                             f" received X with integrator={integrator!r}.")
        state_size = check_integer("state_size", state_size, 1, optional=True)
        if state_size is not None and integrator in _SPLIT and state_size % 2:
            raise ValueError(
                f"`state_size` must be even for integrator={integrator!r} "
                f"(the state splits into halves p, q); received "
                f"state_size={state_size}.")
        self.smoothness = check_non_negative("smoothness", smoothness)
        self.depth = depth
        self.step_size = check_positive("step_size", step_size)
        self.integrator = integrator
        self.J = J
        self.X = check_square_matrix("X", X, optional=True)
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
        if self.integrator in _SPLIT and n % 2:
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
        m = n // 2
        block = m if self.integrator in _SPLIT else n
        kernel_shape = {"semi_implicit": (self.depth, 2, m, m),
                        "hamiltonian_inspired": (self.depth, m, m)}.get(
                            self.integrator, (self.depth, n, n))
        constraint = None
        if self.kernel_mask is not None:
            if self.kernel_mask.shape != (block, block):
                raise ValueError(
                    f"`kernel_mask` must have shape {(block, block)} for "
                    f"integrator={self.integrator!r} and state size {n}; "
                    f"received kernel_mask of shape "
                    f"{self.kernel_mask.shape}.")
            asymmetric = self.kernel_mask != self.kernel_mask.T
            if self.integrator == "antisymmetric" and asymmetric.any():
                raise ValueError(
                    "`kernel_mask` must be symmetric for integrator="
                    "'antisymmetric': its kernel `W - W^T` has the nonzeros "
                    "of the mask and of its transpose, so a non-symmetric "
                    "mask would not confine it; received a kernel_mask that "
                    f"differs from its transpose at {asymmetric.sum()} "
                    "entries.")
            constraint = SparsityMask(
                np.broadcast_to(self.kernel_mask, kernel_shape))
            if self.X is not None and np.any(self.X[self.kernel_mask == 0]):
                raise ValueError("`X` must vanish outside `kernel_mask` (a "
                                 "node's X block couples only its own p and "
                                 "q); received an X with entries outside.")
        if self.integrator == "forward_euler":
            J = self.J if not isinstance(self.J, str) else _canonical_j(
                n, self.J)
            if J.shape != (n, n):
                raise ValueError(f"`J` must have shape {(n, n)} for state "
                                 f"size {n}; received shape {J.shape}.")
            self.j_matrix = J
        if self.X is not None and self.X.shape != (m, m):
            raise ValueError(f"`X` must have shape {(m, m)} for state size "
                             f"{n}; received shape {self.X.shape}.")
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

    def _kernel(self, dtype):
        """The kernel as used: masked, antisymmetrized where asked."""
        kernel = ops.cast(self.kernel, dtype)
        if self.kernel_mask is not None:
            kernel = kernel * ops.convert_to_tensor(self.kernel_mask, dtype)
        if self.integrator == "antisymmetric":
            kernel = kernel - ops.transpose(kernel, (0, 2, 1))
        return kernel

    def embed(self, inputs, dtype=None):
        """The initial state `y_0` of shape `(B, n)`: the inputs `(B, d)`,
        zero-padded to the state, in `dtype` (`None`: the compute dtype)."""
        dtype = dtype or self.compute_dtype
        inputs = ops.cast(inputs, dtype)
        if self.embedding is None:
            return inputs
        return ops.einsum("bi,ik->bk", inputs,
                          ops.convert_to_tensor(self.embedding, dtype))

    def _output_kernels(self, kernel):
        """Per step, the matrices that map `act(...)` to the update, with
        the step size and sign folded in (no separate multiplication or
        negation of a batch-sized tensor): `h J K_j^T` (forward Euler), or
        `h X K_{p,j}^T` and `-h X^T K_{q,j}^T` (semi-implicit, in the
        kernel's `(p, q)` order)."""
        h = self.step_size
        dtype = keras.backend.standardize_dtype(kernel.dtype)
        constant = lambda a: ops.convert_to_tensor(a, dtype)
        if self.integrator == "forward_euler":
            return h * ops.einsum("ml,jkl->jmk", constant(self.j_matrix),
                                  kernel)
        if self.integrator != "semi_implicit":
            return None
        signs = constant(np.array([h, -h]).reshape(1, 2, 1, 1))
        if self.X is None:
            return signs * ops.transpose(kernel, (0, 1, 3, 2))
        X = constant(self.X)
        return signs * ops.stack(
            [ops.einsum("ml,jkl->jmk", X, kernel[:, 0]),
             ops.einsum("lm,jkl->jmk", X, kernel[:, 1])], 1)

    def _per_step(self, tensor, shape):
        """`tensor`'s leading `(depth, ...)` axes as a list of per-step
        pieces of `shape`: one unstacking instead of a slice per step (in a
        TensorFlow graph each slice is an op, and so is its gradient)."""
        return ops.unstack(ops.reshape(tensor, (-1, *shape)))

    def states(self, inputs, every_step=True, dtype=None):
        """The states `y_0, ..., y_N`, or only `[y_N]` if not `every_step`
        (then `p`, `q` are joined only once), computed in `dtype` (`None`:
        the layer's compute dtype, as in `call`).

        The inputs' leading axes are flattened into one batch axis `B`, so
        each returned state has shape `(B, n)`. Inside, the state is carried
        transposed, `(n, B)`, so that every product is a small `(n, n)`
        kernel times a wide `(n, B)` matrix. With `n` = 4 or 8, TensorFlow's
        CPU matmul is about twice as fast that way round as for `(B, n)`
        times `(n, n)`, and JAX and torch are faster too (measured on the
        Fashion-MNIST model of `benchmarks/hamiltonian.py`).
        """
        inputs = ops.reshape(inputs, (-1, ops.shape(inputs)[-1]))
        act = _ACTIVATIONS[self.activation][0]
        h = self.step_size
        n, m = self.n, self.n // 2
        block = m if self.integrator in _SPLIT else n
        dtype = dtype or self.compute_dtype
        kernel = self._kernel(dtype)
        kernels = self._per_step(kernel, (block, block))
        bias = self._per_step(ops.cast(self.bias, dtype), (block, 1))
        if self.integrator in ("forward_euler", "semi_implicit"):
            out = self._per_step(self._output_kernels(kernel),
                                 (block, block))
        elif self.integrator == "hamiltonian_inspired":  # K_j^T
            out = self._per_step(ops.transpose(kernel, (0, 2, 1)), (m, m))
        y = ops.transpose(self.embed(inputs, dtype))
        ys = [y]
        p, q = y[:m], y[m:]
        for j in range(self.depth):
            if self.integrator == "forward_euler":
                z = _times(kernels[j], y) + bias[j]
                y = y + _times(out[j], act(z))
            elif self.integrator == "antisymmetric":
                y = y + h * act(_times(kernels[j], y) + bias[j])
            elif self.integrator == "semi_implicit":
                p_part, q_part = 2 * j, 2 * j + 1
                s = act(_times(kernels[q_part], q) + bias[q_part])
                p = p + _times(out[q_part], s)
                s = act(_times(kernels[p_part], p) + bias[p_part])
                q = q + _times(out[p_part], s)
            else:  # hamiltonian_inspired
                p = p + h * act(_times(kernels[j], q) + bias[2 * j])
                q = q + h * act(-_times(out[j], p) + bias[2 * j + 1])
            if self.integrator in _SPLIT and (
                    every_step or j == self.depth - 1):
                y = ops.concatenate([p, q], axis=0)
            if every_step:
                ys.append(y)
        ys = ys if every_step else [y]
        return [ops.transpose(y) for y in ys]

    def smoothness_penalty(self):
        """`h * sum_j (||K_{j+1} - K_j||^2 + ||b_{j+1} - b_j||^2)`, in
        float32 under a mixed-precision policy."""
        dtype = self._float32_or_wider()
        kernel = ops.cast(self.kernel, dtype)
        if self.kernel_mask is not None:
            kernel = kernel * ops.convert_to_tensor(self.kernel_mask, dtype)
        bias = ops.cast(self.bias, dtype)
        return self.step_size * (
            ops.sum(ops.square(kernel[1:] - kernel[:-1]))
            + ops.sum(ops.square(bias[1:] - bias[:-1])))

    def call(self, inputs):
        if self.smoothness:
            self.add_loss(self.smoothness * self.smoothness_penalty())
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
        h = self.step_size
        n, m = self.n, self.n // 2
        dtype = self._float32_or_wider()
        ys = self.states(inputs, dtype=dtype)
        kernel = self._kernel(dtype)
        out = self._output_kernels(kernel)
        bias = ops.cast(self.bias, dtype)
        eye_n = ops.convert_to_tensor(np.eye(n), dtype)
        eye_m = ops.convert_to_tensor(np.eye(m), dtype)

        def blocks(top_left, top_right, bottom_left, bottom_right):
            return ops.concatenate(
                [ops.concatenate([top_left, top_right], -1),
                 ops.concatenate([bottom_left, bottom_right], -1)], -2)

        jacobians = []
        for j in range(self.depth):
            y, y_next = ys[j], ys[j + 1]
            if self.integrator in ("forward_euler", "antisymmetric"):
                d = dact(ops.einsum("bi,ki->bk", y, kernel[j]) + bias[j])
                if self.integrator == "forward_euler":  # h J K^T D K
                    a = ops.einsum("mk,bk,kl->bml", out[j], d, kernel[j])
                else:  # h D K
                    a = h * d[:, :, None] * kernel[j]
                jacobians.append(eye_n + a)
                continue
            q, p_next = y[:, m:], y_next[:, :m]
            if self.integrator == "semi_implicit":
                # [[I, -h X^T Kq^T Dq Kq], [0, I]] then
                # [[I, 0], [h X Kp^T Dp Kp, I]], Dp at the new p.
                dq = dact(ops.einsum("bi,ki->bk", q, kernel[j, 1])
                          + bias[j, m:])
                dp = dact(ops.einsum("bi,ki->bk", p_next, kernel[j, 0])
                          + bias[j, :m])
                first = ops.einsum("mk,bk,kl->bml", out[j, 1], dq,
                                   kernel[j, 1])
                second = ops.einsum("mk,bk,kl->bml", out[j, 0], dp,
                                    kernel[j, 0])
            else:  # hamiltonian_inspired: Dp K, then -Dq K^T at the new p
                dp = dact(ops.einsum("bi,ki->bk", q, kernel[j]) + bias[j, :m])
                dq = dact(-ops.einsum("bi,ik->bk", p_next, kernel[j])
                          + bias[j, m:])
                first = h * dp[:, :, None] * kernel[j]
                second = -h * dq[:, :, None] * ops.transpose(kernel[j])
            eye = ops.broadcast_to(eye_m, ops.shape(first))
            zeros = ops.zeros_like(first)
            jacobians.append(ops.einsum(
                "bik,bkl->bil", blocks(eye, zeros, second, eye),
                blocks(eye, first, zeros, eye)))
        return ops.stack(jacobians)

    def get_config(self):
        config = super().get_config()
        as_list = lambda a: None if a is None else np.asarray(a).tolist()
        config.update({
            "depth": self.depth,
            "step_size": self.step_size,
            "integrator": self.integrator,
            "J": self.J if isinstance(self.J, str) else as_list(self.J),
            "X": as_list(self.X),
            "activation": self.activation,
            "state_size": self.state_size,
            "input_indices": self.input_indices,
            "kernel_mask": as_list(self.kernel_mask),
            "smoothness": self.smoothness,
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

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.state_size or input_shape[-1])
