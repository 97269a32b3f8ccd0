"""Docstring text the optimizers share, as Keras shares its own.

A class docstring's `Args:` holds the placeholder
`{{base_optimizer_keyword_args}}` where its `**kwargs` entry goes, and the
line after the class, `fill_keyword_args(DSGD)`, puts the text in.
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


def fill_keyword_args(cls):
    """Replaces `{{base_optimizer_keyword_args}}` in `cls`'s docstring by
    `base_optimizer_keyword_args` (nothing to do under `python -OO`, which
    drops docstrings)."""
    if cls.__doc__:
        cls.__doc__ = cls.__doc__.replace("{{base_optimizer_keyword_args}}",
                                          base_optimizer_keyword_args)
