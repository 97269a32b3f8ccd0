"""Fashion-MNIST, offline first, through tensorflow-datasets.

Debian's `dataset-fashion-mnist` package installs the four original IDX
files in `/usr/share/datasets/fashion-mnist/`, re-compressed: their sha256
differs from the one TFDS has registered, so handing them to TFDS as a
`manual_dir` alone fails with `NonMatchingChecksumError`.
`prepare_fashion_mnist` therefore checks the IDX headers itself and builds
TFDS's own `fashion_mnist` (same generator, version and features) with the
local files' checksums registered in place of the published ones. Afterwards
`tfds.load("fashion_mnist", data_dir=data_dir, download=False)` works
offline, as for a downloaded copy. Without the local files, TFDS downloads
as usual; without tensorflow-datasets, the IDX files are read with NumPy.
"""

import gzip
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

# split: (images file, labels file, number of examples)
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}


def _path(name, value, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"`{name}` must be a path, got {value!r}")
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"`{name}` must be a directory, got {value!r}, "
                         "which is a file")
    return path


def _file_names():
    return [f for images, labels, _ in _FILES.values()
            for f in (images, labels)]


def _missing(source_dir, why):
    return (f"Fashion-MNIST is not in {str(source_dir)!r} (it needs "
            f"{', '.join(_file_names())}) and {why}. On Debian/Ubuntu "
            "install it with `apt-get install -y dataset-fashion-mnist` (it "
            f"puts the files in {DEBIAN_DIR}), or pass `source_dir=` a "
            "directory holding them.")


def _has_files(source_dir):
    return all((source_dir / f).is_file() for f in _file_names())


def _read_idx(source_dir, name, shape, data=True):
    """Checks the IDX header of `source_dir/name`; returns its uint8 data."""
    magic = 0x800 + len(shape)
    with gzip.open(source_dir / name, "rb") as f:
        header = f.read(4 * (1 + len(shape)))
        body = f.read() if data else b""
    expected = (magic, *shape)
    if (len(header) != 4 * len(expected)
            or struct.unpack(f">{len(expected)}I", header) != expected
            or (data and len(body) != np.prod(shape))):
        raise ValueError(f"`source_dir`={str(source_dir)!r}: {name} is not an "
                         f"IDX file of shape {shape} (Fashion-MNIST)")
    return np.frombuffer(body, np.uint8).reshape(shape) if data else None


def _read_split(source_dir, split, data=True):
    images, labels, n = _FILES[split]
    return (_read_idx(source_dir, images, (n, 28, 28), data),
            _read_idx(source_dir, labels, (n,), data))


def prepare_fashion_mnist(source_dir=DEBIAN_DIR, data_dir=None):
    """Prepares TFDS's `fashion_mnist` from local IDX files, offline.

    After this, `tfds.load("fashion_mnist", data_dir=data_dir,
    download=False)` works without a network. Nothing is done if the dataset
    is already prepared in `data_dir`. Needs tensorflow-datasets. See the
    module docstring for how the re-compressed Debian files pass TFDS's
    checksum check.

    Args:
        source_dir: directory holding the four `*-ubyte.gz` IDX files.
        data_dir: TFDS data directory; `None` is TFDS's default
            (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`).

    Returns:
        The TFDS data directory, as a string.

    Example:

    ```python
    import tensorflow_datasets as tfds

    data_dir = keras_constrained.datasets.prepare_fashion_mnist()
    train = tfds.load("fashion_mnist", split="train", data_dir=data_dir,
                      download=False, as_supervised=True)
    ```
    """
    import tensorflow_datasets as tfds

    source_dir = _path("source_dir", source_dir)
    data_dir = _path("data_dir", data_dir, optional=True)
    if not _has_files(source_dir):
        raise FileNotFoundError(_missing(source_dir, "nothing was prepared"))
    for split in _FILES:
        _read_split(source_dir, split, data=False)

    base = tfds.image_classification.FashionMNIST
    local_infos = {
        base.URL + f: tfds.download.checksums.compute_url_info(source_dir / f)
        for f in _file_names()
    }

    class LocalFashionMNIST(base, skip_registration=True):
        name = base.name
        url_infos = local_infos

    builder = LocalFashionMNIST(data_dir=data_dir)
    if not builder.is_prepared():
        config = tfds.download.DownloadConfig(manual_dir=source_dir,
                                              try_download_gcs=False)
        # Extracted copies go to a temporary directory, not into data_dir.
        with tempfile.TemporaryDirectory() as download_dir:
            builder.download_and_prepare(download_dir=download_dir,
                                         download_config=config)
    return os.fspath(builder.data_dir_root)


def load_fashion_mnist(source_dir=DEBIAN_DIR, data_dir=None, download=True):
    """Loads Fashion-MNIST like `keras.datasets.fashion_mnist.load_data()`.

    Offline first: with tensorflow-datasets installed and the IDX files in
    `source_dir`, TFDS's `fashion_mnist` is prepared from them into
    `data_dir` (see `prepare_fashion_mnist`) and loaded from there. Without
    the files TFDS loads or downloads it as usual. Without
    tensorflow-datasets the files are read directly with NumPy.

    The NumPy path keeps the files' order; the TFDS path has TFDS's fixed
    order (the same as any downloaded `fashion_mnist`), so the two return
    the same examples in different orders.

    Args:
        source_dir: directory holding the four `*-ubyte.gz` IDX files;
            the default is where Debian's `dataset-fashion-mnist` puts them.
        data_dir: TFDS data directory; `None` is TFDS's default. Unused
            without tensorflow-datasets.
        download: bool, whether TFDS may download the data when it is
            neither in `source_dir` nor prepared in `data_dir`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(N, 28, 28)`
        and uint8 labels in `0..9`, with 60000 training and 10000 test
        examples.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = (
        keras_constrained.datasets.load_fashion_mnist())
    x_train = x_train.astype("float32") / 255.0
    ```
    """
    source_dir = _path("source_dir", source_dir)
    data_dir = _path("data_dir", data_dir, optional=True)
    if not isinstance(download, bool):
        raise ValueError(f"`download` must be a bool, got {download!r}")
    local = _has_files(source_dir)
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        if not local:
            raise FileNotFoundError(_missing(
                source_dir, "tensorflow-datasets, which could download it, "
                "is not installed")) from None
        return tuple(_read_split(source_dir, split) for split in _FILES)

    if local:
        data_dir = prepare_fashion_mnist(source_dir, data_dir)
    try:
        splits = tfds.load("fashion_mnist", split=["train", "test"],
                           data_dir=data_dir, download=download and not local,
                           batch_size=-1, as_supervised=True)
    except Exception as err:  # TFDS signals "not prepared" and network
        if local:             # failures with many exception types.
            raise
        why = ("TFDS could not download it" if download else
               "it is not prepared in `data_dir` (and `download=False`)")
        raise FileNotFoundError(_missing(source_dir, why)) from err
    return tuple((x[..., 0], y.astype(np.uint8))
                 for x, y in tfds.as_numpy(splits))
