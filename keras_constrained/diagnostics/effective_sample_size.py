"""Bulk, tail and plain effective sample sizes (Vehtari et al. 2021)."""

import numpy as np

from keras_constrained.diagnostics import _chains


_ARGS = """Args:
        draws: array-like of shape `(chains, draws)` or
            `(chains, draws, *shape)` of finite numbers, with at least 2
            chains and 4 draws.

    Returns:
        A float for 2-D `draws`, otherwise a float64 NumPy array of shape
        `shape`, one ESS per element; NaN where the quantity whose ESS
        is estimated is the same number in every draw (there is no
        variance, so no autocorrelation to estimate; ArviZ and posterior
        return NaN too).

    Raises:
        TypeError: `draws` is not array-like with numbers.
        ValueError: `draws` has fewer than 2 chains or 4 draws, or
            non-finite entries."""


def ess(draws):
    """The effective sample size of the mean of the draws as they are.

    The multi-chain estimate of Stan and of Vehtari et al. (2021) on the
    split chains (each cut in half, the middle draw of an odd count
    dropped), without rank normalization: `S / tau`, `S` the number of
    draws kept and `tau` the integrated autocorrelation time, estimated
    from each chain's FFT autocovariance combined across chains with the
    within- and between-chain variances and truncated by Geyer's initial
    monotone sequence. It is the number of independent draws that would
    estimate the mean as well; it needs a finite variance, which
    `bulk_ess` does not.

    {args}

    Example:

    ```python
    draws = numpy.random.default_rng(0).normal(size=(4, 1000))
    keras_constrained.diagnostics.ess(draws)  # about 4000
    ```
    """
    x, shape = _chains.check_draws(draws)
    return _chains.finish(_chains.effective_sample_size(_chains.split_chains(x)),
                   shape)


def bulk_ess(draws):
    """The bulk effective sample size: the ESS of the rank-normalized
    split chains.

    It measures how well the centre of the distribution (means, medians)
    is sampled, whatever the tails: for well-behaved draws it is close to
    `ess`. Vehtari et al. (2021) recommend at least 100 per chain (400
    for 4 chains) before trusting `rhat` and the estimates.

    {args}

    Example:

    ```python
    rng = numpy.random.default_rng(0)
    draws = numpy.zeros((4, 1000))
    for t in range(1, 1000):  # AR(1) chains, autocorrelation 0.5
        draws[:, t] = 0.5 * draws[:, t - 1] + rng.normal(size=4)
    keras_constrained.diagnostics.bulk_ess(draws)  # roughly 4000 / 3
    ```
    """
    x, shape = _chains.check_draws(draws)
    z = _chains.rank_normalize(_chains.split_chains(x))
    return _chains.finish(_chains.effective_sample_size(z), shape)


def tail_ess(draws):
    """The tail effective sample size: the smaller ESS of the indicators
    `draws <= q` at the 5% and 95% quantiles `q` of all draws.

    It measures how well the tails are sampled, i.e. how reliable the
    5% and 95% quantiles (a 90% interval) are. Vehtari et al. (2021)
    recommend at least 100 per chain (400 for 4 chains).

    {args}

    Example:

    ```python
    draws = numpy.random.default_rng(0).normal(size=(4, 1000))
    keras_constrained.diagnostics.tail_ess(draws)  # about 4000
    ```
    """
    x, shape = _chains.check_draws(draws)
    split = _chains.split_chains(x)
    flat = split.reshape(split.shape[0] * split.shape[1], split.shape[2])
    values = [_chains.effective_sample_size(
        (split <= np.quantile(flat, level, axis=0)).astype("float64"))
        for level in (0.05, 0.95)]
    return _chains.finish(np.minimum(*values), shape)


for _function in (ess, bulk_ess, tail_ess):
    _function.__doc__ = _function.__doc__.replace("{args}", _ARGS)
del _function
