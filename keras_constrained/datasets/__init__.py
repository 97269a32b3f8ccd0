"""Data sets of the papers: Fashion-MNIST (offline first) and 2-D toy sets."""

from keras_constrained.datasets.fashion_mnist import load_fashion_mnist
from keras_constrained.datasets.fashion_mnist import prepare_fashion_mnist
from keras_constrained.datasets.toy import double_circles
from keras_constrained.datasets.toy import double_moons
from keras_constrained.datasets.toy import spiral
from keras_constrained.datasets.toy import swiss_roll

__all__ = [
    "double_circles",
    "double_moons",
    "load_fashion_mnist",
    "prepare_fashion_mnist",
    "spiral",
    "swiss_roll",
]
