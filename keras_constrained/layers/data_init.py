"""Data-dependent initialization of a model's normalization layers, in
depth order: each layer is initialized on the inputs it receives once every
layer before it has been initialized."""

import contextlib

import keras

from keras_constrained._validation import check_instance
from keras_constrained.layers.batchless_normalization import (
    BatchlessNormalization)
from keras_constrained.layers.weight_normalization import WeightNormalization


def initialize_from_data(model, x):
    """Initializes every normalization layer of `model` from the sample `x`.

    Calls `initialize(inputs)` on each `BatchlessNormalization` (mean and
    standard deviation set to those of its inputs) and each
    `WeightNormalization` with `data_init=True` (gain and bias set so its
    pre-activations are standardized) among the layers of `model`, nested
    ones included (inside sub-layers, wrappers or sub-models). They go in the
    order in which the model calls them (the depth order), each with
    `inputs` the inputs it receives when the model runs on `x` in inference
    mode after the layers before it were initialized. Run it once, before
    training, on a few hundred examples (all of `x` goes through the model
    at once).

    Any `keras.Model` works: Sequential (with or without `keras.Input`,
    built or not), Functional or subclassed; a model not yet built is built
    by a first forward pass on `x`. Each of these normalization layers must
    be called at most once per forward pass (a `ValueError` says which one
    is not); one the forward pass does not call is left alone.

    Args:
        model: a `keras.Model`.
        x: a sample of the model's inputs, anything `model(x)` accepts
            (array, tensor, or a list or dict of them).

    Example:

    ```python
    model = keras.Sequential([
        keras.layers.Dense(4),
        keras_constrained.layers.BatchlessNormalization(),
    ])  # no `keras.Input`: built here, by the first forward pass
    x = numpy.random.normal(2.0, 3.0, size=(256, 3))
    keras_constrained.layers.initialize_from_data(model, x)
    y = model.predict(x, verbose=0)  # standardized features
    numpy.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4)
    numpy.testing.assert_allclose(y.std(axis=0), 1.0, rtol=1e-4)
    ```
    """
    check_instance("model", model, keras.Model, "a keras.Model")
    # Keras' own recursive walk (sub-layers, wrapped layers, sub-models),
    # without duplicates; there is no public equivalent.
    layers = [layer for layer in model._flatten_layers(include_self=False)
              if isinstance(layer, BatchlessNormalization) or (
                  isinstance(layer, WeightNormalization) and layer.data_init)]
    if not layers:
        return
    if not all(layer.built for layer in [model, *layers]):
        # Building runs the layers symbolically: not in the passes below,
        # which must see only the layers' eager calls.
        model(x, training=False)

    calls = []

    def recorder(layer):
        call = layer.call

        def recording_call(*args, **kwargs):
            calls.append(layer)
            return call(*args, **kwargs)
        return recording_call

    with _calls_replaced([(layer, recorder(layer)) for layer in layers]):
        model(x, training=False)
    order = []
    for layer in calls:
        if any(layer is seen for seen in order):
            raise ValueError(
                "`initialize_from_data` needs each normalization layer to "
                "be called once in the model's forward pass; "
                f"{layer.name!r} ({type(layer).__name__}) is called "
                f"{sum(c is layer for c in calls)} times.")
        order.append(layer)

    for layer in order:
        captured = []

        def capture(*args, **kwargs):
            captured.append(args[0] if args else kwargs["inputs"])
            raise _Captured  # the rest of the forward pass is not needed

        with _calls_replaced([(layer, capture)]):
            try:
                model(x, training=False)
            except _Captured:
                pass
        if not captured:
            raise ValueError(
                f"The model's forward pass called {layer.name!r} once, then "
                "not at all: `initialize_from_data` needs the same layers "
                "called on every forward pass.")
        layer.initialize(captured[0])


class _Captured(Exception):
    """Stops a forward pass once a layer's inputs are captured."""


@contextlib.contextmanager
def _calls_replaced(replacements):
    """Replaces each layer's `call` by the function paired with it
    (`replacements`: a list of `(layer, function)` pairs) for the duration,
    bypassing Keras' attribute tracking; every layer's own `call` is back on
    exit, however the block ends."""
    missing = object()
    saved = []
    try:
        for layer, call in replacements:
            saved.append((layer, layer.__dict__.get("call", missing)))
            object.__setattr__(layer, "call", call)
        yield
    finally:
        for layer, original in saved:
            if original is missing:
                object.__delattr__(layer, "call")
            else:
                object.__setattr__(layer, "call", original)
