"""The norms DSGD measures a layer's step in, with their duality maps.

A layer's variables form one matrix `W` (the rule is in `DSGD`). DSGD needs,
for a norm `||.||` on such matrices and a gradient `G`, the dual norm
`||G||_* = max <G, U> over ||U|| <= 1` and a unit dualizer `u*(G)`, a
maximizer (`<G, u*> = ||G||_*`, `||u*|| = 1`); the duality map is
`||G||_* u*(G)`, the steepest-descent direction of that geometry.

| norm        | dual norm of `G`                 | unit dualizer                  |
|-------------|----------------------------------|--------------------------------|
| `frobenius` | `||G||_F`                        | `G / ||G||_F` (gradient step)  |
| `spectral`  | nuclear norm `sum(sigma_i)`      | polar factor `U V^T`           |

Each norm is a small object (`Frobenius`, `Spectral`; `NORMS` maps DSGD's
`norm` argument to one). DSGD compares the dual norms of all layers at every
step but needs the dualizer of the chosen layer only, so the two are
separate methods: `dual_norm` measures every layer, `unit_dualizer` builds
one direction from what `dual_norm` returned for it.
"""

import keras
import numpy as np
from keras import ops

from keras_constrained._backend.control_flow import cond
from keras_constrained._backend.ops import eigh
from keras_constrained._backend.ops import identity
from keras_constrained._backend.ops import matmul
from keras_constrained._backend.ops import maximum

# `tau` in units of `eps * lambda_max` (`spectral_measure`): several times
# the rounding of a float32 Gram matrix of a layer's gradient and of its
# eigenvalues, which keeps `||u||_2 <= 1` with a margin
# (benchmarks/README.md, "DSGD's constants").
ROUNDING_UNITS = 32.0


def power_of_two_scale(m):
    """The power of two nearest the largest `|m_ij|` (1 for `m = 0`):
    dividing by it is exact and brings the entries to about 1, where
    their squares cannot overflow (float32 squares overflow from entries
    of 1.8e19, gradients of a diverged network)."""
    largest = ops.max(ops.abs(m))
    exponent = ops.round(ops.log2(ops.where(largest > 0, largest, 1.0)))
    return ops.power(ops.cast(2.0, m.dtype), ops.cast(exponent, m.dtype))


def frobenius_norm(m):
    """`||m||_F`, also where the sum of squares overflows (then from `m`
    scaled by `power_of_two_scale`, which costs a pass more)."""
    norm = ops.sqrt(ops.sum(ops.square(m)))

    def rescaled():
        scale = power_of_two_scale(m)
        return scale * ops.sqrt(ops.sum(ops.square(m / scale)))

    return cond(ops.isfinite(norm), lambda: norm, rescaled)


class Frobenius:
    """`||W||_F`: the dual norm is `||G||_F`, the unit dualizer `G / ||G||_F`,
    so DSGD's step is a scaled gradient step on one layer."""

    def dual_norm(self, g):
        """`(d, measure)`: the dual norm of `g`, and what `unit_dualizer`
        needs besides `g` (here `d` itself)."""
        d = frobenius_norm(g)
        return d, d

    def unit_dualizer(self, g, measure, size=1.0):
        """`size` times the unit dualizer `u` of `g` (zero for `g = 0`), from
        `g` and the `measure` that `dual_norm(g)` returned: `<g, u>` is the
        dual norm and `||u|| <= 1`. (`size` is applied where it costs
        least: to a scalar or to a small matrix.)"""
        return ops.multiply(g, size / ops.where(measure > 0, measure, 1.0))

    def weight_size(self, square_sum, rows, columns):
        """The norm of weights whose squares sum to `square_sum`."""
        return ops.sqrt(square_sum)


class Spectral:
    """`||W||_2`: the dual norm is the nuclear norm `sum(sigma_i)` and the
    unit dualizer the polar factor `U V^T`, both from one eigendecomposition
    of the gradient's smaller Gram matrix (`spectral_measure`)."""

    def dual_norm(self, g):
        """`(d, measure)` as `Frobenius.dual_norm`; `measure` is
        `spectral_measure(g)`."""
        measure = spectral_measure(g)
        lam, _, tau, scale = measure
        return scale * spectral_dual_norm(lam, tau), measure

    def unit_dualizer(self, g, measure, size=1.0):
        """As `Frobenius.unit_dualizer`: `size` times the polar direction."""
        return polar_direction(g, *measure, size=size)

    def weight_size(self, square_sum, rows, columns):
        """From below: the root-mean-square singular value."""
        return ops.sqrt(square_sum / min(rows, columns))


NORMS = {"frobenius": Frobenius(), "spectral": Spectral()}


def _short_side(g):
    """`g` or its transpose, whichever has at least as many rows as
    columns: its Gram matrix is the smaller one."""
    return g if g.shape[0] >= g.shape[1] else ops.transpose(g)


def spectral_measure(g):
    """`(lambda, V, tau, scale)`: the eigenvalues (clipped at 0) and
    eigenvectors of the Gram matrix `A = X^T X` of `X`, `g / scale` or its
    transpose with the fewer columns (`lambda = sigma^2`, `sigma` the
    singular values of `g / scale`), and the regularization
    `tau = 32 eps lambda_max` (`eps` the unit roundoff of `g`'s dtype, plus
    the smallest normal number so that `g = 0` divides by no zero).
    `scale = power_of_two_scale(g)`: `A` of `g` itself overflows float32
    from entries of 1.8e19, which the gradients of a diverged network
    reach, and dividing by a power of two changes no rounding.

    Why the Gram matrix: for `X` of `m x n` (`m >= n`) it costs `m n^2`
    multiply-adds and its eigendecomposition `O(n^3)` in one LAPACK call,
    where a Newton-Schulz iteration on `X` pays `2 m n^2 + n^3` per
    iteration, for the 10 to 50 iterations that a gradient's spread
    singular values need. What it costs in accuracy: the rounding of `A`
    moves each eigenvalue by up to a few `eps lambda_max`, so singular
    values below about `sqrt(tau)` are not resolved; `tau` is what the
    nuclear norm and polar factor below are regularized by.
    """
    scale = power_of_two_scale(g)
    x = _short_side(g / scale)
    lam, v = eigh(matmul(ops.transpose(x), x))
    lam = maximum(lam, 0.0)
    dtype = keras.backend.standardize_dtype(lam.dtype)
    info = np.finfo(dtype)
    tau = ROUNDING_UNITS * float(info.eps) * ops.max(lam) + float(
        info.tiny)
    return lam, v, tau, scale


def _polish(s, one=1.0, product=ops.multiply):
    """`r(s) = (15 - 10 s + 3 s^2) / 8` (of a number, or of a matrix with
    `one` its identity and `product` the matrix product), so that
    `p(x) = x r(x^2)` is the Newton-Schulz polynomial
    `(15 x - 10 x^3 + 3 x^5) / 8`: it maps `[0, 1]` into itself, `p(x) >= x`
    there, and `p(1 - d) = 1 - 2.5 d^3 + O(d^4)` (`p'(1) = p''(1) = 0`),
    while `p(1 + d) = 1 + 2.5 d^3 + O(d^4)` pulls values slightly above 1
    back to 1."""
    return (15.0 * one - 10.0 * s + 3.0 * product(s, s)) / 8.0


def spectral_dual_norm(lam, tau):
    """`d = sum_i sigma_i phi_i`, with `phi_i = p(sigma_i / sqrt(sigma_i^2 +
    tau))` (from `spectral_measure(g)`: of `g / scale`, which `dual_norm`
    multiplies back): in exact arithmetic `<g, polar_direction(g)>`, the
    nuclear norm regularized by `tau`.

    `0 <= phi_i < 1`, so `d <= ||g||_*`; `1 - phi_i < 0.32 (tau /
    sigma_i^2)^3`, so singular values above `sqrt(10 tau)` (in float32
    `0.006 sigma_max`) count to 3e-4, and `||g||_* - d` is at most that
    plus the sum of the singular values below `sqrt(10 tau)`.
    """
    s = lam / (lam + tau)
    return ops.sum(lam / ops.sqrt(lam + tau) * _polish(s))


def polar_direction(g, lam, v, tau, scale, size=1.0):
    """`size` times `u = p(x (A + tau I)^{-1/2})`, `x = g / scale` (for `g`
    with more rows than columns; the transpose otherwise), from
    `spectral_measure(g)`:
    `U diag(phi) V^T` in exact arithmetic (thin SVD `g = U S V^T`, `phi` as in
    `spectral_dual_norm`), the polar factor `U V^T` up to the singular
    values below about `sqrt(tau)`, which it shrinks towards 0.

    What DSGD's descent bound uses holds: `||u||_2 <= 1` and
    `<g, u> = spectral_dual_norm(...)`, both to rounding. The rounding of
    `A` can leave singular values of `g (A + tau I)^{-1/2}` slightly above
    1; the one Newton-Schulz step `p`, taken on the matrix itself rather than
    on `A`'s eigenvalues, maps `1 + d` to `1 + 2.5 d^3` and converges the
    singular values near 1, at the cost of `2 m n^2 + n^3` multiply-adds.
    """
    x = _short_side(g / scale)
    x = matmul(x, matmul(v / ops.sqrt(lam + tau)[None, :], ops.transpose(v)))
    a = matmul(ops.transpose(x), x)
    x = matmul(x, size * _polish(a, identity(a.shape[0], a.dtype),
                                 matmul))
    return x if g.shape[0] >= g.shape[1] else ops.transpose(x)


def spectral_norm(m, v):
    """Power-iteration estimate of `||m||_2`, from the vector `v != 0`.

    Returns the estimate (from below) and the next unit vector (`v` itself
    when `m` maps it to 0). Warm-started from the last step's vector, one
    iteration per step tracks the largest singular value of slowly moving
    weights.
    """
    v = v / frobenius_norm(v)
    w = matmul(ops.transpose(m), matmul(m, v[:, None]))[:, 0]
    size = frobenius_norm(w)
    v = ops.where(size > 0, w / ops.where(size > 0, size, 1.0), v)
    return frobenius_norm(matmul(m, v[:, None])), v
