"""The discretizations of the `Hamiltonian` layer, one class each.

A class holds what differs between them: the kernel's shape, the per-step
matrices with the step size `h` and `J` (or `X`) folded in, one step of
the forward pass and one step's closed-form Jacobian. The layer keeps the
weights, the embedding and the loop over the steps.

The forward pass carries the state transposed, `(n, B)` (see
`Hamiltonian.states`), so every bias is a column `(block, 1)`; a split
state is carried as its halves `(p, q)`, joined only where the layer asks.
"""

import keras
import numpy as np
from keras import ops

from keras_constrained._backend.ops import matmul


def _per_step(tensor, shape):
    """`tensor`'s leading `(depth, ...)` axes as a list of per-step pieces
    of `shape`: one unstacking instead of a slice per step (in a
    TensorFlow graph each slice is an op, and so is its gradient)."""
    return ops.unstack(ops.reshape(tensor, (-1, *shape)))


def _constant(array, like):
    """NumPy `array` as a tensor of `like`'s dtype."""
    return ops.convert_to_tensor(
        array, keras.backend.standardize_dtype(like.dtype))


def _canonical_j(n, name):
    """The paper's interconnection matrices `J1`, `J2` of size `n`."""
    if name == "J1":  # [[0, I], [-I, 0]]
        if n % 2:
            raise ValueError(
                "`interconnection`='J1' needs an even state size; received "
                f"state size {n}.")
        m = n // 2
        return np.block([[np.zeros((m, m)), np.eye(m)],
                         [-np.eye(m), np.zeros((m, m))]])
    # J2: +1 above the diagonal, -1 below it.
    return np.triu(np.ones((n, n)), 1) - np.tril(np.ones((n, n)), -1)


class _Integrator:
    """An integrator on the whole state `y` of size `n`.

    A subclass defines `steps(kernel, bias)`: the layer's kernel (as
    `kernel` returns it) and `(depth, n)` bias as one tuple of tensors per
    step; `step(state, weights, act)`: the carried state after one step
    with such a tuple; and either `_update_jacobian(d, weights)`, with the
    step's kernel and bias first in `weights`: `d y_next / d y - I` from
    the `(B, n)` values `d` of `act'`, or, for a split state,
    `_half_jacobians` (see `_SplitIntegrator`).
    """

    name = None
    split = False  # whether the state is carried as halves (p, q)
    arguments = ()  # the layer's arguments it takes, besides n and h

    def __init__(self, n, step_size):
        self.n = n
        self.step_size = step_size
        self.block = n // 2 if self.split else n  # one kernel's size

    def kernel_shape(self, depth):
        return (depth, self.block, self.block)

    def check_mask(self, mask):
        """Raises a ValueError if the `(block, block)` `mask` cannot hold
        this integrator's kernel."""

    def kernel(self, kernel):
        """The `(depth, ...)` kernel as the steps use it."""
        return kernel

    def start(self, y):
        """The carried state for the transposed state `y` `(n, B)`."""
        return y

    def join(self, state):
        """The transposed state `(n, B)` of a carried state."""
        return state

    def jacobian(self, y, y_next, weights, dact):
        """`d y_next / d y`, `(B, n, n)`, for the `(B, n)` states `y` and
        `y_next` of one step with `weights`: `I + A` with `A` from
        `_update_jacobian`."""
        kernel, bias = weights[:2]
        d = dact(ops.einsum("bi,ki->bk", y, kernel) + bias[:, 0])
        return (_constant(np.eye(self.n), d)
                + self._update_jacobian(d, weights))


class ForwardEuler(_Integrator):
    """H1: `y += h J K^T act(K y + b)`."""

    name = "forward_euler"
    arguments = ("interconnection",)

    def __init__(self, n, step_size, interconnection):
        super().__init__(n, step_size)
        j = (_canonical_j(n, interconnection)
             if isinstance(interconnection, str) else interconnection)
        if j.shape != (n, n):
            raise ValueError(f"`interconnection` must have shape {(n, n)} "
                             f"for state size {n}; received shape "
                             f"{j.shape}.")
        self.j_matrix = j

    def steps(self, kernel, bias):
        # h J K_j^T: the step size is folded in, no batch-sized product.
        out = self.step_size * ops.einsum(
            "ml,jkl->jmk", _constant(self.j_matrix, kernel), kernel)
        n = self.n
        return list(zip(_per_step(kernel, (n, n)), _per_step(bias, (n, 1)),
                        _per_step(out, (n, n))))

    def step(self, y, weights, act):
        kernel, bias, out = weights
        return y + matmul(out, act(matmul(kernel, y) + bias))

    def _update_jacobian(self, d, weights):  # h J K^T D K
        kernel, _, out = weights
        return ops.einsum("mk,bk,kl->bml", out, d, kernel)


class Antisymmetric(_Integrator):
    """Haber and Ruthotto: `y += h act(K y + b)`, `K = W - W^T`."""

    name = "antisymmetric"

    def check_mask(self, mask):
        asymmetric = mask != mask.T
        if asymmetric.any():
            raise ValueError(
                "`kernel_mask` must be symmetric for integrator="
                "'antisymmetric': its kernel `W - W^T` has the nonzeros "
                "of the mask and of its transpose, so a non-symmetric "
                "mask would not confine it; received a kernel_mask that "
                f"differs from its transpose at {asymmetric.sum()} "
                "entries.")

    def kernel(self, kernel):
        return kernel - ops.transpose(kernel, (0, 2, 1))

    def steps(self, kernel, bias):
        n = self.n
        return list(zip(_per_step(kernel, (n, n)), _per_step(bias, (n, 1))))

    def step(self, y, weights, act):
        kernel, bias = weights
        return y + self.step_size * act(matmul(kernel, y) + bias)

    def _update_jacobian(self, d, weights):  # h D K
        return self.step_size * d[:, :, None] * weights[0]


class _SplitIntegrator(_Integrator):
    """An integrator on `y = (p, q)` that updates `p`, then `q` with the
    new `p`; its Jacobian is the product of the two updates'."""

    split = True

    def start(self, y):
        m = self.block
        return y[:m], y[m:]

    def join(self, state):
        return ops.concatenate(state, axis=0)

    def jacobian(self, y, y_next, weights, dact):
        """`[[I, 0], [second, I]] @ [[I, first], [0, I]]` per sample, from
        `_half_jacobians`: `first = d p_next / d q`, `second = d q_next /
        d p_next`."""
        m = self.block
        first, second = self._half_jacobians(y[:, m:], y_next[:, :m],
                                             weights, dact)
        eye = ops.broadcast_to(_constant(np.eye(m), first),
                               ops.shape(first))
        zeros = ops.zeros_like(first)

        def blocks(top_left, top_right, bottom_left, bottom_right):
            return ops.concatenate(
                [ops.concatenate([top_left, top_right], -1),
                 ops.concatenate([bottom_left, bottom_right], -1)], -2)

        return ops.einsum("bik,bkl->bil", blocks(eye, zeros, second, eye),
                          blocks(eye, first, zeros, eye))


class SemiImplicit(_SplitIntegrator):
    """H2, symplectic Euler: `K = blockdiag(K_p, K_q)` (the kernel's axis 1,
    in that order), `J = [[0, -X^T], [X, 0]]`."""

    name = "semi_implicit"
    arguments = ("coupling",)

    def __init__(self, n, step_size, coupling):
        super().__init__(n, step_size)
        m = self.block
        if coupling is not None and coupling.shape != (m, m):
            raise ValueError(f"`coupling` must have shape {(m, m)} for "
                             f"state size {n}; received shape "
                             f"{coupling.shape}.")
        self.coupling = coupling

    def kernel_shape(self, depth):
        return (depth, 2, self.block, self.block)

    def check_mask(self, mask):
        if self.coupling is not None and np.any(self.coupling[mask == 0]):
            raise ValueError(
                "`coupling` must vanish outside `kernel_mask` (a node's X "
                "block couples only its own p and q); received a coupling "
                "with entries outside.")

    def steps(self, kernel, bias):
        # h X K_p^T and -h X^T K_q^T, with the step size and sign folded
        # in (no separate product or negation of a batch-sized tensor).
        signs = _constant(
            np.array([self.step_size, -self.step_size]).reshape(1, 2, 1, 1),
            kernel)
        if self.coupling is None:
            out = signs * ops.transpose(kernel, (0, 1, 3, 2))
        else:
            x = _constant(self.coupling, kernel)
            out = signs * ops.stack(
                [ops.einsum("ml,jkl->jmk", x, kernel[:, 0]),
                 ops.einsum("lm,jkl->jmk", x, kernel[:, 1])], 1)
        m = self.block
        kernels, biases, outs = (_per_step(kernel, (m, m)),
                                 _per_step(bias, (m, 1)),
                                 _per_step(out, (m, m)))
        # Per step: the q part (it updates p first), then the p part.
        return list(zip(kernels[1::2], biases[1::2], outs[1::2],
                        kernels[::2], biases[::2], outs[::2]))

    def step(self, state, weights, act):
        p, q = state
        kernel_q, bias_q, out_q, kernel_p, bias_p, out_p = weights
        p = p + matmul(out_q, act(matmul(kernel_q, q) + bias_q))
        q = q + matmul(out_p, act(matmul(kernel_p, p) + bias_p))
        return p, q

    def _half_jacobians(self, q, p_next, weights, dact):
        # -h X^T Kq^T Dq Kq, then h X Kp^T Dp Kp with Dp at the new p.
        kernel_q, bias_q, out_q, kernel_p, bias_p, out_p = weights
        dq = dact(ops.einsum("bi,ki->bk", q, kernel_q) + bias_q[:, 0])
        dp = dact(ops.einsum("bi,ki->bk", p_next, kernel_p) + bias_p[:, 0])
        return (ops.einsum("mk,bk,kl->bml", out_q, dq, kernel_q),
                ops.einsum("mk,bk,kl->bml", out_p, dp, kernel_p))


class HamiltonianInspired(_SplitIntegrator):
    """Haber and Ruthotto: `p += h act(K q + b_p)`, then
    `q += h act(-K^T p + b_q)`, one `K` per step."""

    name = "hamiltonian_inspired"

    def steps(self, kernel, bias):
        m = self.block
        biases = _per_step(bias, (m, 1))
        return list(zip(
            _per_step(kernel, (m, m)),
            _per_step(ops.transpose(kernel, (0, 2, 1)), (m, m)),
            biases[::2], biases[1::2]))

    def step(self, state, weights, act):
        p, q = state
        kernel, kernel_t, bias_p, bias_q = weights
        h = self.step_size
        p = p + h * act(matmul(kernel, q) + bias_p)
        q = q + h * act(-matmul(kernel_t, p) + bias_q)
        return p, q

    def _half_jacobians(self, q, p_next, weights, dact):
        # h Dp K, then -h Dq K^T with Dq at the new p.
        kernel, kernel_t, bias_p, bias_q = weights
        h = self.step_size
        dp = dact(ops.einsum("bi,ki->bk", q, kernel) + bias_p[:, 0])
        dq = dact(-ops.einsum("bi,ik->bk", p_next, kernel) + bias_q[:, 0])
        return (h * dp[:, :, None] * kernel,
                -h * dq[:, :, None] * kernel_t)


INTEGRATORS = {integrator.name: integrator for integrator in (
    ForwardEuler, SemiImplicit, Antisymmetric, HamiltonianInspired)}
