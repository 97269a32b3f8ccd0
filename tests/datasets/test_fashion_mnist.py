import gzip
import os
import socket
import struct
import sys

import numpy as np
import pytest

from keras_constrained.datasets import load_fashion_mnist
from keras_constrained.datasets import prepare_fashion_mnist
from keras_constrained.datasets.fashion_mnist import DEBIAN_DIR

needs_debian_files = pytest.mark.skipif(
    not os.path.isdir(DEBIAN_DIR),
    reason=f"{DEBIAN_DIR} is absent "
    "(apt-get install -y dataset-fashion-mnist)")

APT = "apt-get install -y dataset-fashion-mnist"


@pytest.fixture(autouse=True)
def fresh_session():
    """Overrides conftest's Keras reset (~0.5 s a test): no Keras here."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Nothing may download: any connection attempt fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def without_tfds(monkeypatch):
    """`import tensorflow_datasets` raises ImportError."""
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)


def sorted_examples(x, y):
    """Rows `(label, *pixels)` in lexicographic order: order-free equality."""
    rows = np.concatenate([y.reshape(-1, 1).astype(np.uint8),
                           x.reshape(len(x), -1)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


@needs_debian_files
def test_numpy_reader_gives_the_full_dataset(without_tfds):
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    assert x_train.max() == 255 and x_train.min() == 0


@needs_debian_files
def test_tfds_prepares_offline_and_matches_the_idx_files(tmp_path,
                                                         monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    from tensorflow_datasets.image_classification import mnist

    # Full preparation PNG-encodes 70000 images (~15 s); TFDS's generator
    # reads as many examples as these constants say, so take a prefix.
    monkeypatch.setattr(mnist, "_TRAIN_EXAMPLES", 3000)
    monkeypatch.setattr(mnist, "_TEST_EXAMPLES", 500)
    data_dir = tmp_path / "tfds"

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(
        data_dir=data_dir, download=False)
    assert x_train.shape == (3000, 28, 28) and x_test.shape == (500, 28, 28)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert os.path.isdir(data_dir / "fashion_mnist")
    assert not os.path.exists(data_dir / "downloads")

    # A second load, as a user would write it, from the prepared data only.
    info_file = next((data_dir / "fashion_mnist").glob("*/dataset_info.json"))
    stamp = info_file.stat().st_mtime_ns
    assert prepare_fashion_mnist(data_dir=data_dir) == str(data_dir)
    assert info_file.stat().st_mtime_ns == stamp  # reused, not rebuilt
    splits = tfds.as_numpy(tfds.load(
        "fashion_mnist", split=["train", "test"], data_dir=data_dir,
        download=False, batch_size=-1, as_supervised=True))

    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    idx_train, idx_test = load_fashion_mnist()
    for (x, y), mine, (x_idx, y_idx) in zip(
            splits, [(x_train, y_train), (x_test, y_test)],
            [idx_train, idx_test]):
        n = len(y)
        expected = sorted_examples(x_idx[:n], y_idx[:n])
        np.testing.assert_array_equal(sorted_examples(x[..., 0], y), expected)
        np.testing.assert_array_equal(sorted_examples(*mine), expected)


def test_missing_source_without_download_says_how_to_install(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(FileNotFoundError, match=APT):
        load_fashion_mnist(source_dir=tmp_path / "absent",
                           data_dir=tmp_path / "tfds", download=False)
    with pytest.raises(FileNotFoundError, match=APT):
        prepare_fashion_mnist(source_dir=tmp_path, data_dir=tmp_path / "tfds")


def test_missing_source_without_tfds_says_how_to_install(tmp_path,
                                                         without_tfds):
    with pytest.raises(FileNotFoundError, match=APT):
        load_fashion_mnist(source_dir=tmp_path)


def test_corrupt_idx_file_is_rejected(tmp_path, without_tfds):
    for split, n in [("train", 60000), ("t10k", 10000)]:
        with gzip.open(tmp_path / f"{split}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">4I", 2051, n, 28, 27))
        with gzip.open(tmp_path / f"{split}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">2I", 2049, n) + bytes(n))
    with pytest.raises(ValueError, match="source_dir.*train-images"):
        load_fashion_mnist(source_dir=tmp_path)


@pytest.mark.parametrize("name,value", [
    ("source_dir", 3), ("data_dir", 1.5), ("download", "yes"),
    ("download", None),
])
def test_bad_arguments_raise(name, value):
    with pytest.raises(ValueError, match=f"`{name}`.*{value!r}"):
        load_fashion_mnist(**{name: value})


def test_file_instead_of_directory_raises(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    for name in ("source_dir", "data_dir"):
        with pytest.raises(ValueError, match=f"`{name}`.*which is a file"):
            load_fashion_mnist(**{name: path})
