"""Docstring text the optimizers share, as Keras shares its own.

A class docstring's `Args:` holds a placeholder such as
`{{base_optimizer_keyword_args}}` where the shared entries go (its
`**kwargs`, or the Langevin optimizers' `temperature`, and their `seed`,
`name` and `**kwargs`), and the line after the class,
`fill_keyword_args(DSGD)`, puts the texts in.
"""

# An entry of `Args:`, indented as in a class docstring (the placeholder at
# 8 spaces, so 12 for the continuation lines). What `weight_decay` does
# differs between the optimizers: each says it after the placeholder.
base_optimizer_keyword_args = """\
**kwargs: the other arguments of `keras.optimizers.Optimizer`, with Keras'
            meaning: `clipnorm`, `clipvalue`, `global_clipnorm`,
            `gradient_accumulation_steps`, `use_ema`, `ema_momentum`,
            `ema_overwrite_frequency`, `loss_scale_factor` and
            `weight_decay`."""


langevin_temperature_arg = """\
temperature: float >= 0 or a
            `keras.optimizers.schedules.LearningRateSchedule`: the
            temperature `T` of the sampled density `exp(-loss / T)`.
            `posterior_temperature(N)` (`1 / N`) makes it the Bayesian
            posterior for a mean loss over `N` examples. A schedule is
            evaluated at every step (at `iterations`, inside the compiled
            train step), and noise is then drawn at every step, even where
            it is 0; `CyclicalSchedule.temperature` gives the tempering of
            cyclical SG-MCMC."""

# The last entries of every Langevin optimizer's `Args:`.
langevin_seed_and_keyword_args = f"""\
seed: int or None, seeds the optimizer's noise (per backend).
            Under data-parallel training (`keras.distribution.DataParallel`,
            a `tf.distribute` strategy) every replica draws the same noise,
            so the replicas take the same steps and the run is one chain.
            One chain per device would need weights with a chain axis,
            which replicated weights do not have: run independent chains
            (one seed each) and pool their samples with
            `keras_constrained.models.PosteriorEnsemble.pool`.
        name: the optimizer's name.
        {base_optimizer_keyword_args}
            `weight_decay` skips the variables with a manifold constraint."""

_SHARED = {"base_optimizer_keyword_args": base_optimizer_keyword_args,
           "langevin_temperature_arg": langevin_temperature_arg,
           "langevin_seed_and_keyword_args": langevin_seed_and_keyword_args}


def fill_keyword_args(cls):
    """Replaces each placeholder `{{name}}` of the texts above in `cls`'s
    docstring by its text (nothing to do under `python -OO`, which drops
    docstrings)."""
    if cls.__doc__:
        for name, text in _SHARED.items():
            cls.__doc__ = cls.__doc__.replace("{{" + name + "}}", text)
