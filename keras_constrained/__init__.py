"""keras-constrained: constrained training for Keras 3 on every backend.

Importing the package registers all of its objects with Keras'
serialization, so `keras.saving.load_model` restores models that use them.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from keras_constrained import callbacks
from keras_constrained import constraints
from keras_constrained import datasets
from keras_constrained import diagnostics
from keras_constrained import layers
from keras_constrained import metrics
from keras_constrained import models
from keras_constrained import optimizers

try:
    __version__ = _version("keras-constrained")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "callbacks", "constraints", "datasets", "diagnostics", "layers",
    "metrics", "models", "optimizers", "__version__",
]
