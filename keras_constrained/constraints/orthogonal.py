"""Orthogonality (Stiefel manifold) for Dense and convolution kernels."""

import math

import keras
from keras import ops

from keras_constrained._backend.control_flow import branch
from keras_constrained._backend.ops import eigh
from keras_constrained._backend.ops import identity
from keras_constrained._backend.ops import matmul
from keras_constrained._backend.ops import maximum
from keras_constrained._backend.control_flow import traced_once_per_shape
from keras_constrained._backend.control_flow import while_loop
from keras_constrained._validation import check_integer
from keras_constrained._validation import check_positive
from keras_constrained.constraints.base import ManifoldConstraint
from keras_constrained.constraints.base import as_float_tensor


def _sym(a):
    return 0.5 * (a + ops.transpose(a))


def _gram(a, b):
    return matmul(ops.transpose(a), b)


def _polar_by_svd(m):
    """`U V^T` from the SVD, polished by one Newton-Schulz step (the SVD's
    own rounding leaves `max|P^T P - I|` up to 3e-6 in float32).

    JAX's CPU SVD has been seen to return NaN for a well-conditioned
    float32 matrix (like jax-ml/jax#22809); the factor is then taken from
    the eigendecomposition of the small Gram matrix instead.
    """
    u, _, vh = ops.svd(m, full_matrices=False)
    p = matmul(u, vh)
    p = branch(ops.all(ops.isfinite(p)), lambda: p,
               lambda: _polar_by_eigh(m))
    return p - 0.5 * matmul(p, _gram(p, p) - identity(p.shape[1], p.dtype))


def _polar_by_eigh(m):
    """`M (M^T M)^(-1/2)` by the eigendecomposition of `M^T M` (p x p).

    Squares the condition number, so only a fallback; eigenvalues are
    floored at the dtype's resolution times the largest (a rank-deficient
    `m` has no unique polar factor anyway).
    """
    values, vectors = eigh(_gram(m, m))
    floor = ops.max(values) * float(keras.config.epsilon())
    scale = ops.rsqrt(maximum(values, floor))
    return matmul(m, matmul(vectors * scale, ops.transpose(vectors)))


def polar_factor(m, tolerance, max_iterations):
    """Orthonormal-column polar factor `U V^T` of a tall matrix `m`.

    Near the set (`||m^T m - I|| < 1`, as after an optimizer step) by the
    Newton-Schulz iteration `P <- P - P (P^T P - I) / 2`, which converges
    quadratically to the polar factor (`E' = -3/4 E^2 + E^3 / 4` for
    `E = P^T P - I`): it runs until the Frobenius norm of `E`, which bounds
    its spectral norm, is below `sqrt(tolerance)`, then once more, which
    takes every singular value within `tolerance` of 1 (up to rounding).
    Farther away, or if it stalls, by the SVD. A matrix with a NaN or inf
    entry has no polar factor and comes back unchanged (the SVD would raise
    under TensorFlow and torch).
    """
    eye = identity(m.shape[1], m.dtype)
    threshold = tolerance**0.5

    def frobenius(e):
        return ops.sqrt(ops.sum(ops.square(e)))

    def keep_going(k, p, e, res, previous):
        return ops.logical_and(
            ops.logical_and(k < max_iterations, res > threshold),
            res < previous)

    def iterate(k, p, e, res, previous):
        p = p - 0.5 * matmul(p, e)
        e = _gram(p, p) - eye
        return k + 1, p, e, frobenius(e), res

    e = _gram(m, m) - eye
    res = frobenius(e)
    # Outside `res < 1` the iteration may not converge: straight to the SVD.
    previous = ops.where(res < 1.0, float("inf"), 0.0)
    start = (ops.convert_to_tensor(0), m, e, res, ops.cast(previous, m.dtype))
    _, p, e, res, _ = while_loop(keep_going, iterate, start)

    def far():
        # A non-finite `m` lands here too: its residual is NaN or inf.
        return branch(ops.all(ops.isfinite(m)), lambda: _polar_by_svd(m),
                      lambda: m)

    return branch(res <= threshold, lambda: p - 0.5 * matmul(p, e), far)


_shared_polar_factor = traced_once_per_shape(polar_factor)


def shake(w, displacement, tolerance, max_iterations):
    """SHAKE landing: `P = W + D + W L` with symmetric `L` and `P^T P = I`.

    Returns `P` and `S = sym(P^T (P - W))`, what RATTLE's velocity
    projection at `P` needs.

    `w` is tall with orthonormal columns. The multiplier `L` (p x p) solves
    `R(L) = C + L A + (L A)^T + L^2 = 0` with `A = W^T (W + D)` and
    `C = (W + D)^T (W + D) - I`, by the quasi-Newton iteration
    `L <- L - R(L) / 2`: the same iterates as the classical SHAKE iteration
    `P <- P - W (P^T P - I) / 2`, but in the small p x p space, so each
    iteration costs O(p^3) instead of O(n p^2). With `A = I + B`,
    `R(L) = C + 2 L + M + M^T` for `M = L (B + L / 2)`: one matrix product
    per iteration, of small terms only. `C` is summed from
    `W^T W - I`, `W^T D` and `D^T D` rather than formed from `W + D`, which
    halves its rounding error in float32. The loop stops once
    `max|R| <= tolerance`, after `max_iterations`, or when the residual stops
    falling (divergence, which large steps cause, or the rounding floor). If
    it did not reach the tolerance, the step falls back to the polar
    projection of `W + D`.

    `S` comes from the small matrices at hand rather than from the product
    `P^T (P - W)`: `P^T (P - W) = (P^T P - I) - (W^T W - I) - D^T W - L W^T W`,
    where `P^T P - I` is the last residual `R(L)` (up to `L (W^T W - I) L`)
    and `L W^T W` is `L` up to `L (W^T W - I)`; both products of a small
    matrix with the rounding of `W^T W`, and dropped.
    """
    eye = identity(w.shape[1], w.dtype)
    cross = _gram(w, displacement)
    off = _gram(w, w) - eye
    b = off + cross
    c = b + ops.transpose(cross) + _gram(displacement, displacement)

    def residual(lam):
        m = matmul(lam, b + 0.5 * lam)
        return c + 2.0 * lam + (m + ops.transpose(m))

    def keep_going(k, lam, r, res, previous):
        return ops.logical_and(
            ops.logical_and(k < max_iterations, res > tolerance),
            res < previous)

    def iterate(k, lam, r, res, previous):
        lam = lam - 0.5 * r
        r_new = residual(lam)
        return k + 1, lam, r_new, ops.max(ops.abs(r_new)), res

    start = (ops.convert_to_tensor(0), ops.zeros_like(c), c,
             ops.max(ops.abs(c)), ops.convert_to_tensor(float("inf"), c.dtype))
    _, lam, r, res, _ = while_loop(keep_going, iterate, start)

    def landed():
        return (w + (displacement + matmul(w, lam)),
                r - off - _sym(cross) - lam)

    def projected():
        p = _shared_polar_factor(w + displacement, tolerance, max_iterations)
        return p, _sym(_gram(p, p - w))

    return branch(res <= tolerance, landed, projected)


_shared_shake = traced_once_per_shape(shake)


@keras.saving.register_keras_serializable(package="keras_constrained")
class Orthogonal(ManifoldConstraint):
    """Orthonormal columns or rows of a kernel: the Stiefel manifold.

    A Dense kernel `(in, out)`, or a ConvND kernel seen as the matrix
    `(prod(kernel_size) * in, out)`, gets orthonormal columns (`W^T W = I`)
    when it is tall or square and orthonormal rows (`W W^T = I`) when it is
    wide. Projection is the polar factor: by Newton-Schulz iterations
    (matrix products only) when the kernel is near the set, as after an
    optimizer step, else by the SVD; `violation` under 1e-6 in float32 for
    the sizes benchmarked. Weights holding a NaN or inf (a stock optimizer's
    step on a batch with NaN inputs or inf labels, or on a diverged loss)
    come back unchanged rather than raising: the non-finite values reach
    the loss, where `keras.callbacks.TerminateOnNaN` stops training as it
    would without the constraint.
    The position step is SHAKE along the normal at the old point, solved for
    the symmetric Lagrange multiplier to `tolerance` with a divergence guard
    and the polar projection as fallback; the returned velocity is RATTLE's
    (tangent at the new point). Half-precision kernels are handled in
    float32.

    Start on the set with `keras.initializers.Orthogonal()`, which flattens
    the same way.

    Args:
        tolerance: positive float or `None`; the projection and the SHAKE
            solve stop when `max|P^T P - I|` (for SHAKE: the multiplier
            equation's residual, equal to it in exact arithmetic) is below
            it. `None` means 1e-7 for float32 kernels (the result is then
            within 1e-6 of the set, the float32 rounding floor) and 1e-13
            for float64.
        max_iterations: positive int, the most Newton-Schulz or SHAKE
            iterations per call before the SVD fallback.

    Example:

    ```python
    layer = keras.layers.Dense(
        256, kernel_initializer=keras.initializers.Orthogonal(),
        kernel_constraint=keras_constrained.constraints.Orthogonal())
    ```
    """

    iterative = True

    def __init__(self, tolerance=None, max_iterations=30):
        self.tolerance = check_positive("tolerance", tolerance, optional=True)
        self.max_iterations = check_integer("max_iterations", max_iterations,
                                            1)

    def check_shape(self, shape):
        if len(shape) < 2:
            raise ValueError(
                "Orthogonal needs a kernel of rank >= 2 (Dense or Conv); "
                f"received a variable of shape {tuple(shape)}."
            )

    def dimension(self, shape):
        # The Stiefel manifold of n x k frames (n >= k): nk weights less the
        # k(k + 1) / 2 equations of W^T W = I.
        k = min(math.prod(shape[:-1]), shape[-1])
        return math.prod(shape) - k * (k + 1) // 2

    def _tall(self, w):
        """Float32-or-wider tall matrix view of `w`, and how to undo it."""
        self.check_shape(w.shape)
        shape, dtype = w.shape, w.dtype
        m = ops.reshape(w, (-1, shape[-1]))
        if keras.backend.standardize_dtype(dtype) in ("float16", "bfloat16"):
            m = ops.cast(m, "float32")
        wide = m.shape[0] < m.shape[1]
        if wide:
            m = ops.transpose(m)

        def back(x):
            x = ops.transpose(x) if wide else x
            return ops.cast(ops.reshape(x, shape), dtype)

        return m, back

    def _tolerance(self, m):
        if self.tolerance is not None:
            return self.tolerance
        return 1e-13 if keras.backend.standardize_dtype(m.dtype) == "float64" \
            else 1e-7

    def __call__(self, w):
        m, back = self._tall(as_float_tensor(w))
        return back(_shared_polar_factor(m, self._tolerance(m),
                                         self.max_iterations))

    def violation(self, w):
        m, _ = self._tall(as_float_tensor(w))
        gram = _gram(m, m)
        return ops.max(ops.abs(gram - identity(m.shape[1], m.dtype)))

    def tangent(self, q, v):
        m, back = self._tall(q)
        z, _ = self._tall(v)
        return back(z - matmul(m, _sym(_gram(m, z))))

    def move(self, q, v, dt):
        m, back = self._tall(q)
        z, _ = self._tall(v)
        p, s = _shared_shake(m, dt * z, self._tolerance(m),
                             self.max_iterations)
        # RATTLE: the velocity (P - W) / dt projected onto the tangent
        # space at P.
        v_new = ((p - m) - matmul(p, s)) / dt
        return back(p), back(v_new)

    def get_config(self):
        return {"tolerance": self.tolerance,
                "max_iterations": self.max_iterations}
