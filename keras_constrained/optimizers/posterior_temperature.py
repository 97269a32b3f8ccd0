"""The sampler temperature at which Langevin samples the Bayesian posterior."""

from keras_constrained._validation import check_choice
from keras_constrained._validation import check_integer

REDUCTIONS = ("sum_over_batch_size", "mean", "sum")


def posterior_temperature(num_examples, loss_reduction="sum_over_batch_size",
                          batch_size=None):
    """The `temperature` that makes a Langevin sampler draw the posterior.

    At temperature `T` the Langevin optimizers sample weights from the
    density proportional to `exp(-U(w) / T)`, where `U` is the minibatch
    loss Keras minimizes, averaged over minibatches. With a per-example
    loss that is a negative log-likelihood (cross-entropy, say) and
    Keras' default mean reduction, `U` is the mean loss over the `N`
    training examples, and the Bayesian posterior is
    `exp(-N * U(w))`: so `T = 1 / N`. With `loss_reduction="sum"`, the
    minibatch loss is a sum over `batch_size` examples, `U` is
    `batch_size / N` times the summed loss, and `T = batch_size / N`
    (`1` for a loss summed over the whole data set; keep every minibatch
    full, e.g. with `N` a multiple of `batch_size`).

    The prior is flat on the constraint set unless there are regularizers.
    Keras adds their losses `R(w)` to `U` unscaled, so they sample the
    prior `exp(-R(w) / T)`: for a prior `exp(-R0(w))`, regularize with
    `T * R0`. A Gaussian prior `N(0, s**2)` on each weight of a kernel,
    `R0 = sum(w**2) / (2 * s**2)`, is
    `kernel_regularizer=keras.regularizers.L2(T / (2 * s**2))`. Colder
    temperatures (the "cold posterior") often predict better; see
    `tutorials/posterior_sampling_calibration.py`.

    Args:
        num_examples: int >= 1, the number `N` of training examples.
        loss_reduction: `"sum_over_batch_size"` (Keras' default) or
            `"mean"`: a mean over the minibatch; `"sum"`: a sum over it.
        batch_size: int in `[1, num_examples]`, the minibatch size; needed
            for (and only used with) `loss_reduction="sum"`.

    Returns:
        The temperature, a float.

    Example:

    ```python
    temperature = keras_constrained.optimizers.posterior_temperature(1000)
    assert temperature == 1e-3
    # The posterior of a softmax regression with an N(0, 1) prior on the
    # kernel: regularize with temperature * sum(w**2) / 2.
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        3, kernel_regularizer=keras.regularizers.L2(temperature / 2))])
    model.compile(
        optimizer=keras_constrained.optimizers.UnderdampedLangevin(
            0.3, friction=1.0, temperature=temperature, seed=0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(numpy.ones((1000, 4)), numpy.zeros(1000), batch_size=100,
              verbose=0)
    ```
    """
    num_examples = check_integer("num_examples", num_examples, 1)
    loss_reduction = check_choice("loss_reduction", loss_reduction,
                                  REDUCTIONS)
    if loss_reduction != "sum":
        return 1.0 / num_examples
    if batch_size is None:
        raise ValueError(
            "`batch_size` is needed with loss_reduction='sum' (the minibatch "
            "loss sums `batch_size` examples); received batch_size=None."
        )
    batch_size = check_integer("batch_size", batch_size, 1, num_examples)
    return batch_size / num_examples
