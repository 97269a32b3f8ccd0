import gzip
import os
import socket
import struct
import sys

import keras
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
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


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
def without_tensorflow(monkeypatch):
    """`import tensorflow` and `import tensorflow_datasets` raise
    ImportError, as in an environment with another Keras backend only."""
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)


@pytest.fixture
def keras_download(monkeypatch):
    """Replaces `keras.datasets.fashion_mnist.load_data` (which downloads)
    by a stub that records its calls and returns marker arrays."""
    calls = []
    data = ((np.full((2, 28, 28), 7, np.uint8), np.array([1, 2], np.uint8)),
            (np.full((1, 28, 28), 9, np.uint8), np.array([3], np.uint8)))

    def load_data():
        calls.append(True)
        return data

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", load_data)
    return calls, data


def write_idx(path, array, magic=None, count=None):
    """An IDX file of `array` (uint8); `magic`/`count` override the header."""
    shape = list(array.shape)
    if count is not None:
        shape[0] = count
    magic = 0x800 + array.ndim if magic is None else magic
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(f">{1 + array.ndim}I", magic, *shape))
        f.write(array.astype(np.uint8).tobytes())


def write_fashion_mnist(directory, n_train=7, n_test=3, seed=0):
    """Small IDX files with the original names; returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in [("train", n_train), ("test", n_test)]:
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        images, labels = FILES[split]
        write_idx(directory / images, x)
        write_idx(directory / labels, y)
        arrays[split] = (x, y)
    return arrays["train"], arrays["test"]


def sorted_examples(x, y):
    """Rows `(label, *pixels)` in lexicographic order: order-free equality."""
    rows = np.concatenate([y.reshape(-1, 1).astype(np.uint8),
                           x.reshape(len(x), -1)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def tree(directory):
    """Every path under `directory` (empty if it does not exist)."""
    return sorted(p.relative_to(directory) for p in directory.rglob("*"))


@needs_debian_files
def test_numpy_reader_gives_the_full_dataset(without_tensorflow,
                                             keras_download):
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    assert x_train.max() == 255 and x_train.min() == 0
    assert not keras_download[0]


def test_local_files_are_read_without_tensorflow(tmp_path, without_tensorflow,
                                                 keras_download):
    # The counts come from the headers: 7 and 3 here, not 60000 and 10000.
    written = write_fashion_mnist(tmp_path, n_train=7, n_test=3)
    loaded = load_fashion_mnist(source_dir=tmp_path, download=False)
    for (x, y), (x_file, y_file) in zip(loaded, written):
        assert x.dtype == y.dtype == np.uint8
        np.testing.assert_array_equal(x, x_file)  # the files' order
        np.testing.assert_array_equal(y, y_file)
    assert not keras_download[0]


@pytest.mark.parametrize("damage,match", [
    ("count", "declares 7 images but .* 6 labels"),
    ("truncated", "declares shape \\(7, 28, 28\\).* the file has"),
    ("magic", "magic number 2049, expected 2051"),
    ("label", "label 10, expected 0..9"),
])
def test_inconsistent_idx_files_are_rejected(tmp_path, without_tensorflow,
                                             damage, match):
    (x, y), _ = write_fashion_mnist(tmp_path)
    images, labels = FILES["train"]
    if damage == "count":
        write_idx(tmp_path / labels, y[:6])
    elif damage == "truncated":
        write_idx(tmp_path / images, x[:6], count=7)
    elif damage == "magic":
        write_idx(tmp_path / images, x, magic=2049)
    else:
        write_idx(tmp_path / labels, np.where(np.arange(7) == 2, 10, y))
    with pytest.raises(ValueError, match=f"`source_dir`.*{match}"):
        load_fashion_mnist(source_dir=tmp_path)


def test_corrupt_idx_file_is_rejected(tmp_path, without_tensorflow):
    for split, n in [("train", 60000), ("t10k", 10000)]:
        with gzip.open(tmp_path / f"{split}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">4I", 2051, n, 28, 27))
        with gzip.open(tmp_path / f"{split}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">2I", 2049, n) + bytes(n))
    with pytest.raises(ValueError, match="source_dir.*train-images"):
        load_fashion_mnist(source_dir=tmp_path)


def test_keras_downloads_when_nothing_is_local(tmp_path, without_tensorflow,
                                               keras_download):
    calls, data = keras_download
    assert load_fashion_mnist(source_dir=tmp_path / "absent") is data
    assert len(calls) == 1


def test_missing_source_without_download_says_how_to_install(
        tmp_path, without_tensorflow, keras_download):
    with pytest.raises(FileNotFoundError, match=APT):
        load_fashion_mnist(source_dir=tmp_path, download=False)
    assert not keras_download[0]
    with pytest.raises(ImportError, match="pip install tensorflow-datasets"):
        prepare_fashion_mnist(source_dir=tmp_path)


def test_missing_source_with_tfds_says_how_to_install(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    data_dir = tmp_path / "tfds"
    with pytest.raises(FileNotFoundError, match=APT):
        load_fashion_mnist(source_dir=tmp_path / "absent", data_dir=data_dir,
                           download=False)
    with pytest.raises(FileNotFoundError, match=APT):
        prepare_fashion_mnist(source_dir=tmp_path, data_dir=data_dir)
    assert not data_dir.exists()


def test_tfds_preparation_is_atomic(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    from tensorflow_datasets.image_classification import mnist

    source_dir, data_dir = tmp_path / "idx", tmp_path / "tfds"
    source_dir.mkdir()
    written = write_fashion_mnist(source_dir, n_train=7, n_test=3)
    # TFDS's generator reads as many examples as these constants say.
    monkeypatch.setattr(mnist, "_TRAIN_EXAMPLES", 7)
    monkeypatch.setattr(mnist, "_TEST_EXAMPLES", 3)

    # A failure mid-preparation (images extracted, labels not) leaves
    # nothing: neither in a new data_dir nor in one that holds other data.
    def fail(*args):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(mnist, "_extract_mnist_labels", fail)
        with pytest.raises(OSError, match="disk full"):
            prepare_fashion_mnist(source_dir, data_dir)
        assert not data_dir.exists()
        (data_dir / "other").mkdir(parents=True)
        with pytest.raises(OSError, match="disk full"):
            prepare_fashion_mnist(source_dir, data_dir)
        assert [str(p) for p in tree(data_dir)] == ["other"]

    # A half-built version directory from an older failure is replaced.
    version_dir = data_dir / "fashion_mnist" / "3.0.1"
    version_dir.mkdir(parents=True)
    (version_dir / "half-built").write_text("")
    assert prepare_fashion_mnist(source_dir, data_dir) == str(data_dir)
    assert not (version_dir / "half-built").exists()
    assert {p.name for p in data_dir.iterdir()} == {"fashion_mnist", "other"}

    # What TFDS loads, and what load_fashion_mnist reads through TFDS when
    # the files are gone, are the files' examples (in TFDS's order).
    splits = tfds.as_numpy(tfds.load(
        "fashion_mnist", split=["train", "test"], data_dir=data_dir,
        download=False, batch_size=-1, as_supervised=True))
    via_tfds = load_fashion_mnist(source_dir=tmp_path / "absent",
                                  data_dir=data_dir, download=False)
    for (x, y), (x_mine, y_mine), (x_file, y_file) in zip(splits, via_tfds,
                                                          written):
        expected = sorted_examples(x_file, y_file)
        np.testing.assert_array_equal(sorted_examples(x[..., 0], y), expected)
        np.testing.assert_array_equal(sorted_examples(x_mine, y_mine),
                                      expected)
        assert x_mine.dtype == y_mine.dtype == np.uint8


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

    assert prepare_fashion_mnist(data_dir=data_dir) == str(data_dir)
    assert os.path.isdir(data_dir / "fashion_mnist")
    assert not os.path.exists(data_dir / "downloads")
    assert [p.name for p in data_dir.iterdir()] == ["fashion_mnist"]

    # A second preparation reuses the prepared data.
    info_file = next((data_dir / "fashion_mnist").glob("*/dataset_info.json"))
    stamp = info_file.stat().st_mtime_ns
    assert prepare_fashion_mnist(data_dir=data_dir) == str(data_dir)
    assert info_file.stat().st_mtime_ns == stamp  # reused, not rebuilt
    splits = tfds.as_numpy(tfds.load(
        "fashion_mnist", split=["train", "test"], data_dir=data_dir,
        download=False, batch_size=-1, as_supervised=True))
    assert splits[0][0].shape == (3000, 28, 28, 1)
    assert splits[1][0].shape == (500, 28, 28, 1)

    idx_train, idx_test = load_fashion_mnist()
    for (x, y), (x_idx, y_idx) in zip(splits, [idx_train, idx_test]):
        n = len(y)
        np.testing.assert_array_equal(sorted_examples(x[..., 0], y),
                                      sorted_examples(x_idx[:n], y_idx[:n]))


@pytest.mark.parametrize("name,value", [
    ("source_dir", 3), ("data_dir", 1.5), ("download", "yes"),
    ("download", None),
])
def test_bad_arguments_raise(name, value):
    with pytest.raises(TypeError, match=f"`{name}`.*{value!r}"):
        load_fashion_mnist(**{name: value})


def test_file_instead_of_directory_raises(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    for name in ("source_dir", "data_dir"):
        with pytest.raises(ValueError, match=f"`{name}`.*which is a file"):
            load_fashion_mnist(**{name: path})
