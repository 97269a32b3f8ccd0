"""Rank-normalized split-R-hat (Vehtari et al. 2021)."""

import numpy as np

from keras_constrained.diagnostics import _chains


def bulk_rhat(draws):
    """The bulk R-hat: the split-R-hat of the rank-normalized draws.

    The draws of all chains are replaced by their normal scores (the
    standard normal quantiles of their pooled ranks), each chain is split
    in half (the middle draw of an odd count dropped), and R-hat is the
    square root of the pooled variance estimate over the mean within-chain
    variance. It detects chains that differ in location, or trend within a
    chain; it does not see chains that differ only in scale, which
    `rhat` catches with the folded draws.

    Args:
        draws: array-like of shape `(chains, draws)` or
            `(chains, draws, *shape)` of finite numbers, with at least 2
            chains and 4 draws.

    Returns:
        A float for 2-D `draws`, otherwise a float64 NumPy array of shape
        `shape`, one R-hat per element. NaN where the element is the
        same number in every draw (R-hat is undefined: there is no
        variance to compare), `inf` where every chain is constant but the
        chains differ.

    Raises:
        TypeError: `draws` is not array-like with numbers.
        ValueError: `draws` has fewer than 2 chains or 4 draws, or
            non-finite entries.

    Example:

    ```python
    draws = numpy.random.default_rng(0).normal(size=(4, 500))
    keras_constrained.diagnostics.bulk_rhat(draws)  # about 1.0
    ```
    """
    x, shape = _chains.check_draws(draws)
    return _chains.finish(_bulk(_chains.split_chains(x)), shape)


def tail_rhat(draws):
    """The tail (folded) R-hat: the bulk R-hat of `|draws - median|`.

    Folding the draws about their pooled median turns a difference in
    scale between chains into a difference in location, which the
    rank-normalized split-R-hat then sees.

    Args:
        draws: array-like of shape `(chains, draws)` or
            `(chains, draws, *shape)` of finite numbers, with at least 2
            chains and 4 draws.

    Returns:
        As `bulk_rhat`: a float, or an array of shape `shape`; NaN where
        the folded draws are constant (e.g. draws of two values
        symmetric about the median).

    Raises:
        ValueError: as `bulk_rhat`.

    Example:

    ```python
    rng = numpy.random.default_rng(0)
    draws = rng.normal(size=(4, 500)) * numpy.array([[1.0], [1.0], [1.0],
                                                     [3.0]])
    keras_constrained.diagnostics.tail_rhat(draws)  # well above 1.01
    ```
    """
    x, shape = _chains.check_draws(draws)
    return _chains.finish(_tail(_chains.split_chains(x)), shape)


def rhat(draws):
    """The rank-normalized split-R-hat: the larger of bulk and tail R-hat.

    This is the R-hat that Vehtari, Gelman, Simpson, Carpenter and
    Buerkner (2021) recommend: the bulk R-hat (of the rank-normalized
    split chains) catches chains that have not mixed in location, the
    tail R-hat (of the rank-normalized folded draws `|x - median|`)
    chains that differ in scale. Use the draws only if `rhat < 1.01`,
    and the bulk and tail effective sample sizes are large enough (see
    `bulk_ess`, `tail_ess`).

    Args:
        draws: array-like of shape `(chains, draws)` or
            `(chains, draws, *shape)` of finite numbers, with at least 2
            chains and 4 draws: e.g. a scalar summary, or the predictions
            of each sample of a `callbacks.PosteriorSampler` run, stacked
            per chain.

    Returns:
        A float for 2-D `draws`, otherwise a float64 NumPy array of shape
        `shape`, one R-hat per element. NaN where either part is
        undefined: the element is the same number in every draw, or its
        folded draws are (as ArviZ and posterior do for constant draws:
        there is nothing to assess).

    Raises:
        TypeError: `draws` is not array-like with numbers.
        ValueError: `draws` has fewer than 2 chains or 4 draws, or
            non-finite entries.

    Example:

    ```python
    rng = numpy.random.default_rng(0)
    mixed = rng.normal(size=(4, 1000))
    keras_constrained.diagnostics.rhat(mixed)  # about 1.0: below 1.01
    stuck = mixed + numpy.array([[0.0], [0.0], [0.0], [2.0]])
    keras_constrained.diagnostics.rhat(stuck)  # about 1.3: not mixed
    per_output = rng.normal(size=(4, 1000, 3, 2))
    keras_constrained.diagnostics.rhat(per_output).shape  # (3, 2)
    ```
    """
    x, shape = _chains.check_draws(draws)
    split = _chains.split_chains(x)
    return _chains.finish(np.maximum(_bulk(split), _tail(split)), shape)


def _bulk(split):
    return _chains.potential_scale_reduction(_chains.rank_normalize(split))


def _tail(split):
    return _bulk(_chains.fold(split))
