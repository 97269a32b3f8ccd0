"""Two-dimensional toy classification sets of the papers, in NumPy.

Every generator returns `(x_train, y_train), (x_test, y_test)` with float32
points of shape `(N, 2)` and int32 labels in `{0, 1}`, and is deterministic
given `seed` (drawn through `numpy.random.default_rng(seed)`).

`swiss_roll`, `double_circles` and `double_moons` follow the H-DNN reference
code (Galimberti et al., `data/datasets.py`): it lays 8000 points out along
the curves, shuffles them and takes the even indices as the training set and
the odd ones as the test set. Here the `n_train + n_test` points are laid out
the same way, shuffled, and the first `n_train` are the training set. For
`n_train == n_test` this is the same distribution over splits (a uniformly
random halving), and with the defaults the same 8000-point layout.
"""

import numpy as np

from keras_constrained._validation import check_integer
from keras_constrained._validation import check_non_negative
from keras_constrained._validation import check_positive


def _rng(seed):
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`seed` must be None or a non-negative integer, "
                         f"got {seed!r}") from err


def _sizes(n, parts):
    """`n` split into `parts` counts that differ by at most one."""
    return [n // parts + (i < n % parts) for i in range(parts)]


def _shuffle_split(rng, pieces, n_train):
    """Concatenates `(points, label)` pieces, shuffles, cuts at `n_train`."""
    x = np.concatenate([points for points, _ in pieces]).astype(np.float32)
    y = np.concatenate([np.full(len(points), label, np.int32)
                        for points, label in pieces])
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def _polar(radius, angle):
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)


def spiral(n_train=100, n_test=2000, noise=0.06, turns=1.75, seed=0):
    """Two interleaved spiral arms, one per class.

    A point of class `k` at parameter `t ~ U(0.05, 1)` lies at radius
    `0.9 * t` and angle `turns * 2 * pi * t + k * pi`, plus Gaussian noise of
    standard deviation `noise` on each coordinate. Train and test points are
    independent draws; each set has `n // 2` or `n // 2 + 1` points of each
    class, in random order.

    Args:
        n_train: positive int, number of training points.
        n_test: positive int, number of test points.
        noise: non-negative float, standard deviation of the coordinate noise.
        turns: positive float, number of turns of each arm.
        seed: seed of `numpy.random.default_rng`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float32 points `(N, 2)` and
        int32 labels in `{0, 1}`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = (
        keras_constrained.datasets.spiral(n_train=200, seed=1))
    ```
    """
    n_train = check_integer("n_train", n_train, 1)
    n_test = check_integer("n_test", n_test, 1)
    noise = check_non_negative("noise", noise)
    turns = check_positive("turns", turns)
    rng = _rng(seed)

    def draw(n):
        label = rng.permutation(np.arange(n) % 2).astype(np.int32)
        t = rng.uniform(0.05, 1.0, n)
        x = _polar(0.9 * t, turns * 2 * np.pi * t + label * np.pi)
        x += noise * rng.standard_normal((n, 2))
        return x.astype(np.float32), label

    return draw(n_train), draw(n_test)


def swiss_roll(n_train=4000, n_test=4000, seed=0):
    """Two noiseless interleaved spiral arms (H-DNN paper's "swiss roll").

    Each arm of `m` points makes two turns, angle `4 * pi * i / m` for
    `i = 0..m-1`; class 1's radius grows linearly from 0 to 1 and class 0's
    from 0.2 to 1.2. The plot domain is `[-1.2, 1.2]^2`. See the module
    docstring for the split.

    Args:
        n_train: positive int, number of training points.
        n_test: positive int, number of test points.
        seed: seed of `numpy.random.default_rng` (used for the shuffle).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float32 points `(N, 2)` and
        int32 labels in `{0, 1}`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = (
        keras_constrained.datasets.swiss_roll())  # 4000 and 4000
    ```
    """
    n_train = check_integer("n_train", n_train, 1)
    n_test = check_integer("n_test", n_test, 1)
    rng = _rng(seed)
    pieces = []
    for (label, start), m in zip([(1, 0.0), (0, 0.2)],
                                 _sizes(n_train + n_test, 2)):
        angle = 4 * np.pi * np.arange(m) / m
        pieces.append((_polar(np.linspace(start, start + 1.0, m), angle),
                       label))
    return _shuffle_split(rng, pieces, n_train)


def double_circles(n_train=4000, n_test=4000, seed=0):
    """Four concentric noisy rings of radii 1 to 4, labels 0, 1, 0, 1.

    Each ring of `m` points has angles `4 * 3.14 * i / m` (two turns; 3.14
    as in the reference) and uniform noise `0.6 * (U(0, 1) - 0.5)` on each
    coordinate. The plot domain is `[-5, 5]^2`. See the module docstring for
    the split.

    Args:
        n_train: positive int, number of training points.
        n_test: positive int, number of test points.
        seed: seed of `numpy.random.default_rng`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float32 points `(N, 2)` and
        int32 labels in `{0, 1}`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = (
        keras_constrained.datasets.double_circles(seed=3))
    ```
    """
    n_train = check_integer("n_train", n_train, 1)
    n_test = check_integer("n_test", n_test, 1)
    rng = _rng(seed)
    pieces = []
    for radius, m in zip([1, 2, 3, 4], _sizes(n_train + n_test, 4)):
        points = _polar(radius, 4 * 3.14 * np.arange(m) / m)
        points += 0.6 * (rng.uniform(size=(m, 2)) - 0.5)
        pieces.append((points, (radius - 1) % 2))
    return _shuffle_split(rng, pieces, n_train)


def double_moons(n_train=4000, n_test=4000, seed=0):
    """Two pairs of interleaved noisy half-moons, side by side.

    With angles `3.14 * i / m` for a moon of `m` points, class 0 has the
    moons `(cos, sin)` and `(cos + 2, sin)`, class 1 has `(1 - cos,
    0.5 - sin)` and `(3 - cos, 0.5 - sin)`, each with uniform noise
    `0.3 * (U(0, 1) - 0.5)` on each coordinate. The plot domain is
    `[-2, 5] x [-1, 2]`. See the module docstring for the split.

    Args:
        n_train: positive int, number of training points.
        n_test: positive int, number of test points.
        seed: seed of `numpy.random.default_rng`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float32 points `(N, 2)` and
        int32 labels in `{0, 1}`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = (
        keras_constrained.datasets.double_moons(n_train=500))
    ```
    """
    n_train = check_integer("n_train", n_train, 1)
    n_test = check_integer("n_test", n_test, 1)
    rng = _rng(seed)
    pieces = []
    # (label, x shift); a class-1 moon is a class-0 moon turned by pi
    # about (0.5, 0.25).
    moons = [(0, 0.0), (1, 0.0), (0, 2.0), (1, 2.0)]
    for (label, shift), m in zip(moons, _sizes(n_train + n_test, 4)):
        angle = 3.14 * np.arange(m) / m
        sign = 1 - 2 * label
        points = np.stack([shift + label + sign * np.cos(angle),
                           0.5 * label + sign * np.sin(angle)], axis=-1)
        points += 0.3 * (rng.uniform(size=(m, 2)) - 0.5)
        pieces.append((points, label))
    return _shuffle_split(rng, pieces, n_train)
