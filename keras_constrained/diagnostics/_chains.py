"""Shared steps of the convergence diagnostics: checks, splitting, ranks,
variances and the multi-chain autocorrelation estimate.

Notation follows Vehtari, Gelman, Simpson, Carpenter and Buerkner (2021),
"Rank-normalization, folding, and localization: an improved R-hat for
assessing convergence of MCMC", Bayesian Analysis 16(2), 667-718: `M`
chains of `N` draws, `S = M N` draws in all. Every function works on
arrays of shape `(chains, draws, K)`, one diagnostic per column `K`.
"""

import numpy as np

from keras_constrained.diagnostics._normal import normal_quantile

_SHAPE = ("an array of finite numbers of shape (chains, draws) or "
          "(chains, draws, *shape) with at least 2 chains and 4 draws")


def check_draws(draws):
    """`draws` as a float64 array of shape `(chains, draws, K)` and the
    trailing shape `*shape` (`()` for 2-D input), or a `ValueError` that
    names `draws`, the shape received and what is allowed (a `TypeError`
    if it does not convert to numbers)."""
    try:
        array = np.asarray(draws, dtype="float64")
    except (TypeError, ValueError):
        array = None
    if array is None:
        raise TypeError(f"`draws` must be {_SHAPE}; received draws of type "
                        f"{type(draws).__name__}.")
    if array.ndim < 2 or array.shape[0] < 2 or array.shape[1] < 4:
        raise ValueError(f"`draws` must be {_SHAPE}; received draws of "
                         f"shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"`draws` must be {_SHAPE}; received draws of "
                         f"shape {array.shape} with non-finite entries.")
    shape = array.shape[2:]
    columns = int(np.prod(shape, dtype="int64"))
    return array.reshape(array.shape[0], array.shape[1], columns), shape


def split_chains(x):
    """Each chain cut into its first and second half, `(2M, N // 2, K)`;
    the middle draw of an odd `N` is dropped."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def pooled_ranks(x):
    """Ranks `1..S` of all draws of each column together, ties given the
    average of the ranks they span, in the shape of `x`."""
    chains, length, columns = x.shape
    flat = x.reshape(chains * length, columns)
    size = flat.shape[0]
    order = np.argsort(flat, axis=0, kind="stable")
    ordered = np.take_along_axis(flat, order, axis=0)
    differs = ordered[1:] != ordered[:-1]
    ones = np.ones((1, columns), dtype=bool)
    starts = np.concatenate([ones, differs], axis=0)
    ends = np.concatenate([differs, ones], axis=0)
    index = np.arange(size)[:, None]
    first = np.maximum.accumulate(np.where(starts, index, 0), axis=0)
    last = np.minimum.accumulate(
        np.where(ends, index, size)[::-1], axis=0)[::-1]
    ranks = np.empty_like(flat)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=0)
    return ranks.reshape(x.shape)


def rank_normalize(x):
    """`z = Phi^-1((r - 3/8) / (S + 1/4))` of the pooled ranks `r` (the
    paper's eq. 14, Blom's offset `3/8`): normal scores whose spread does
    not depend on the draws' tails, so that infinite variances and heavy
    tails do not hide a lack of mixing."""
    size = x.shape[0] * x.shape[1]
    return normal_quantile((pooled_ranks(x) - 0.375) / (size + 0.25))


def fold(x):
    """`|x - median|` over all draws of each column: the spread, whose
    R-hat detects chains that differ in scale but not in location."""
    flat = x.reshape(x.shape[0] * x.shape[1], x.shape[2])
    return np.abs(x - np.median(flat, axis=0))


def variances(x):
    """`(W, var_plus, constant)` per column: the mean within-chain variance
    `W`, the pooled estimate `var_plus = (N - 1) / N W + B / N` of the
    marginal variance (the paper's eqs. 1-3), and whether the column is
    the same number in every draw."""
    length = x.shape[1]
    within = np.mean(np.var(x, axis=1, ddof=1), axis=0)
    between_over_n = np.var(np.mean(x, axis=1), axis=0, ddof=1)
    var_plus = (length - 1) / length * within + between_over_n
    constant = np.all(x == x[:1, :1], axis=(0, 1))
    return within, var_plus, constant


def potential_scale_reduction(x):
    """`sqrt(var_plus / W)` per column (the paper's eq. 4) of the chains
    `x` as given; NaN for a constant column, `inf` where every chain is
    constant but they differ."""
    within, var_plus, constant = variances(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.sqrt(var_plus / within)
    return np.where(constant, np.nan, value)


def autocovariance(x):
    """`acov[m, t] = 1/N sum_n (x[m, n] - mean_m)(x[m, n + t] - mean_m)`
    for `t = 0..N-1`, each chain and column, by FFT (zero padded to a
    power of two at least `2N`, so that no lag wraps around)."""
    length = x.shape[1]
    centred = x - np.mean(x, axis=1, keepdims=True)
    size = 1 << (2 * length - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    power = spectrum * np.conj(spectrum)
    return np.fft.irfft(power, n=size, axis=1)[:, :length] / length


def effective_sample_size(x):
    """The multi-chain ESS `M N / tau` per column of the chains `x` as
    given (the paper's section 3.2, as in Stan).

    The autocorrelation at lag `t` combines the chains' autocovariances
    with the within- and between-chain variances,
    `rho_t = 1 - (W - mean_m(s_m^2 rho_{t,m})) / var_plus` (eq. 10), where
    `s_m^2 rho_{t,m} = N / (N - 1) acov[m, t]`. Geyer's initial monotone
    sequence truncates its sum: the pair sums `P_k = rho_{2k} +
    rho_{2k+1}` are kept up to the first one that is not positive and
    made non-increasing, and `tau = -1 + 2 sum_k P_k`. For antithetic
    chains `tau` may be below 1; it is kept at least `1 / log10(M N)`, so
    the ESS is at most `M N log10(M N)` (as Stan does). NaN for a
    constant column.
    """
    chains, length, _ = x.shape
    total = chains * length
    _, var_plus, constant = variances(x)
    lagged = np.mean(autocovariance(x), axis=0) * (length / (length - 1))
    within = lagged[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (within - lagged) / var_plus
    pairs = length // 2
    sums = rho[0:2 * pairs:2] + rho[1:2 * pairs:2]
    kept = np.cumprod(sums > 0, axis=0).astype(bool)
    monotone = np.minimum.accumulate(np.where(kept, sums, np.inf), axis=0)
    tau = -1.0 + 2.0 * np.sum(np.where(kept, monotone, 0.0), axis=0)
    tau = np.maximum(tau, 1.0 / np.log10(total))
    return np.where(constant, np.nan, total / tau)


def finish(values, shape):
    """Per-element results `values` in the trailing shape of the draws: a
    float for 2-D draws."""
    values = values.reshape(shape)
    return float(values) if shape == () else values
