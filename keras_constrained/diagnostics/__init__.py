"""MCMC convergence diagnostics for collected draws.

Functions over draws of shape `(chains, draws)` or `(chains, draws,
*shape)`, NumPy arrays or anything array-like: a scalar summary (the
loss, a weight's norm) or the predictions of each posterior sample of a
`callbacks.PosteriorSampler` run, stacked per chain (independent runs
from different starting points). They follow Vehtari, Gelman, Simpson,
Carpenter and Buerkner (2021), "Rank-normalization, folding, and
localization: an improved R-hat for assessing convergence of MCMC",
Bayesian Analysis 16(2), and compute one number per element of `shape`.

- `rhat`: the rank-normalized split-R-hat, the larger of `bulk_rhat`
  (differences in location between chains) and `tail_rhat` (differences
  in scale, through the folded draws `|x - median|`). Near 1 when the
  chains agree; the paper recommends using the draws only if it is
  below 1.01.
- `bulk_ess`: the effective sample size of the rank-normalized split
  chains, for the reliability of means and medians.
- `tail_ess`: the smaller ESS of the 5% and 95% quantile indicators, for
  the reliability of intervals.
- `ess`: the ESS of the draws as they are, for the mean (needs a finite
  variance).

The paper recommends at least 4 chains, and bulk and tail ESS of at
least 100 per chain (400 for 4 chains), before trusting an R-hat below
1.01 and the estimates. Constant draws give NaN: there is nothing to
assess.
"""

from keras_constrained.diagnostics.effective_sample_size import bulk_ess
from keras_constrained.diagnostics.effective_sample_size import ess
from keras_constrained.diagnostics.effective_sample_size import tail_ess
from keras_constrained.diagnostics.rhat import bulk_rhat
from keras_constrained.diagnostics.rhat import rhat
from keras_constrained.diagnostics.rhat import tail_rhat

__all__ = ["bulk_ess", "bulk_rhat", "ess", "rhat", "tail_ess", "tail_rhat"]
