import numpy as np
import pytest

from keras_constrained.datasets import double_circles
from keras_constrained.datasets import double_moons
from keras_constrained.datasets import spiral
from keras_constrained.datasets import swiss_roll

GENERATORS = [spiral, swiss_roll, double_circles, double_moons]


@pytest.fixture(autouse=True)
def fresh_session():
    """Overrides conftest's Keras reset (~0.5 s a test): no Keras here."""


def both(data):
    (x_train, y_train), (x_test, y_test) = data
    return np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])


@pytest.mark.parametrize("make", GENERATORS)
def test_shapes_dtypes_labels(make):
    (x_train, y_train), (x_test, y_test) = make(n_train=37, n_test=23)
    assert x_train.shape == (37, 2) and x_test.shape == (23, 2)
    assert y_train.shape == (37,) and y_test.shape == (23,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int32
    assert set(np.unique(np.concatenate([y_train, y_test]))) == {0, 1}
    assert np.isfinite(x_train).all() and np.isfinite(x_test).all()


@pytest.mark.parametrize("make", GENERATORS)
def test_seed_determines_the_data(make):
    first, again, other = make(seed=5), make(seed=5), make(seed=6)
    for a, b in zip(both(first), both(again)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0][0], other[0][0])


@pytest.mark.parametrize("make", GENERATORS)
def test_train_and_test_are_disjoint(make):
    (x_train, _), (x_test, _) = make(n_train=500, n_test=700)
    train = set(map(tuple, x_train.tolist()))
    assert len(train) == 500
    assert train.isdisjoint(map(tuple, x_test.tolist()))


@pytest.mark.parametrize("make", [swiss_roll, double_circles, double_moons])
def test_reference_sets_are_balanced_and_shuffled(make):
    (_, y_train), (_, y_test) = make()
    assert len(y_train) == len(y_test) == 4000
    counts = np.bincount(np.concatenate([y_train, y_test]))
    np.testing.assert_array_equal(counts, [4000, 4000])
    # A random half split, not the two classes one after the other.
    assert 1800 < np.sum(y_train) < 2200
    assert 0 < np.sum(y_train[:100]) < 100


def test_spiral_classes_balanced_in_each_split():
    (_, y_train), (_, y_test) = spiral(n_train=101, n_test=2000)
    assert sorted(np.bincount(y_train)) == [50, 51]
    np.testing.assert_array_equal(np.bincount(y_test), [1000, 1000])


def test_spiral_lies_on_its_arms_without_noise():
    turns = 1.75
    x, y = both(spiral(n_train=300, n_test=300, noise=0.0, turns=turns))
    radius = np.hypot(x[:, 0], x[:, 1])
    assert radius.min() >= 0.9 * 0.05 - 1e-6 and radius.max() <= 0.9 + 1e-6
    angle = turns * 2 * np.pi * radius / 0.9 + y * np.pi
    expected = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    np.testing.assert_allclose(x, expected, atol=1e-5)


def test_spiral_noise_has_its_standard_deviation():
    clean = both(spiral(n_train=20000, n_test=1, noise=0.0, seed=3))[0]
    noisy = both(spiral(n_train=20000, n_test=1, noise=0.06, seed=3))[0]
    assert np.std(noisy - clean) == pytest.approx(0.06, rel=0.03)


def test_swiss_roll_is_the_reference_layout():
    x, y = both(swiss_roll())
    angle = 4 * np.pi * np.arange(4000) / 4000
    for label, start in [(1, 0.0), (0, 0.2)]:
        radius = np.linspace(start, start + 1.0, 4000)
        ref = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
        ours = x[y == label]
        # Same points up to order: sort ours by radius, which grows along
        # the arm.
        ours = ours[np.argsort(np.hypot(ours[:, 0], ours[:, 1]))]
        np.testing.assert_allclose(ours, ref, atol=2e-6)


def test_double_circles_rings_and_labels():
    x, y = both(double_circles())
    radius = np.hypot(x[:, 0], x[:, 1])
    ring = np.rint(radius)
    np.testing.assert_array_equal(np.bincount(ring.astype(int)),
                                  [0, 2000, 2000, 2000, 2000])
    assert np.all(np.abs(radius - ring) <= 0.3 * np.sqrt(2))
    np.testing.assert_array_equal(y, (ring.astype(int) - 1) % 2)


def test_double_moons_lie_on_their_moons():
    x, y = both(double_moons())
    centers = {0: [(0.0, 0.0), (2.0, 0.0)], 1: [(1.0, 0.5), (3.0, 0.5)]}
    for label, (a, b) in centers.items():
        pts = x[y == label]
        dist = np.minimum(np.hypot(*(pts - a).T), np.hypot(*(pts - b).T))
        assert np.all(np.abs(dist - 1.0) <= 0.15 * np.sqrt(2) + 1e-6)
        # Class 0 moons open downwards, class 1 moons upwards.
        side = pts[:, 1] - (0.0 if label == 0 else 0.5)
        assert np.all(side * (1 - 2 * label) >= -0.15 - 1e-6)
    assert x[:, 0].min() > -2 and x[:, 0].max() < 5
    assert x[:, 1].min() > -1 and x[:, 1].max() < 2


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("name,value", [
    ("n_train", 0), ("n_train", -3), ("n_train", 2.5), ("n_train", True),
    ("n_test", 0), ("n_test", "10"), ("seed", "abc"), ("seed", -1),
])
def test_bad_counts_and_seeds_raise(make, name, value):
    with pytest.raises((TypeError, ValueError), match=f"`{name}`.*{value!r}"):
        make(**{name: value})


@pytest.mark.parametrize("name,value", [
    ("noise", -0.1), ("noise", float("nan")), ("turns", 0.0),
    ("turns", float("inf")), ("turns", "2"),
])
def test_spiral_bad_shape_arguments_raise(name, value):
    with pytest.raises((TypeError, ValueError), match=f"`{name}`"):
        spiral(**{name: value})
