"""Data-dependent initialization of a model's normalization layers, in
depth order: each layer is initialized on the inputs it receives once every
layer before it has been initialized."""

import keras

from keras_constrained._validation import check_instance
from keras_constrained.layers.batchless_normalization import (
    BatchlessNormalization)
from keras_constrained.layers.weight_normalization import WeightNormalization


def initialize_from_data(model, x):
    """Initializes every normalization layer of `model` from the sample `x`.

    Walks `model.layers` in order (the depth order of a Sequential or
    Functional model) and calls `initialize(inputs)` on each
    `BatchlessNormalization` (mean and standard deviation set to those of its
    inputs) and each `WeightNormalization` with `data_init=True` (gain and
    bias set so its pre-activations are standardized), with `inputs` the
    layer's inputs on `x` computed in inference mode after the layers before
    it were initialized. Run it once, before training, on a few hundred
    examples (all of `x` goes through the model at once).

    Only the top-level layers are visited, each must be called once in the
    model's graph, and the model must have a single input.

    Args:
        model: a built Sequential or Functional `keras.Model`.
        x: a sample of the model's inputs (array or tensor).

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(4),
        keras_constrained.layers.BatchlessNormalization(),
    ])
    x = numpy.random.normal(2.0, 3.0, size=(256, 3))
    keras_constrained.layers.initialize_from_data(model, x)
    y = model.predict(x, verbose=0)  # standardized features
    numpy.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4)
    numpy.testing.assert_allclose(y.std(axis=0), 1.0, rtol=1e-4)
    ```
    """
    check_instance("model", model, keras.Model,
                   "a built Sequential or Functional keras.Model")
    for layer in model.layers:
        if isinstance(layer, BatchlessNormalization) or (
                isinstance(layer, WeightNormalization) and layer.data_init):
            inputs = keras.Model(model.inputs[0], layer.input)(
                x, training=False)
            layer.initialize(inputs)
