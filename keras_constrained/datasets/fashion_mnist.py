"""Fashion-MNIST, offline first, with NumPy alone.

`load_fashion_mnist` looks in three places, in this order:

1. the four original IDX files in a local directory (by default
   `/usr/share/datasets/fashion-mnist/`, where Debian's
   `dataset-fashion-mnist` package installs them), read with NumPy: no
   TensorFlow, no network;
2. tensorflow-datasets' `fashion_mnist`, if tensorflow-datasets and
   TensorFlow (which TFDS needs to build data sets) both import: loaded when
   prepared in `data_dir`, else downloaded and prepared there;
3. `keras.datasets.fashion_mnist.load_data()`, which downloads the files
   into `~/.keras/datasets/`.

`prepare_fashion_mnist` is for TFDS users who want `tfds.load` to work
offline. Debian's files are re-compressed: their sha256 differs from the one
TFDS has registered, so handing them to TFDS as a `manual_dir` alone fails
with `NonMatchingChecksumError`. It therefore builds TFDS's own
`fashion_mnist` (same generator, version and features) with the local
files' checksums registered in place of the published ones.

Every TFDS preparation runs in a temporary directory inside the data
directory, and only a finished dataset is moved into place; on failure the
temporary directory is removed, so no half-built copy is left behind.
"""

import gzip
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from keras_constrained._validation import check_bool
from keras_constrained._validation import check_instance

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

# split: (images file, labels file)
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_INSTALL_TFDS = "pip install tensorflow-datasets tensorflow"


def _path(name, value, optional=False):
    if value is None and optional:
        return None
    check_instance(name, value, (str, os.PathLike), "a path")
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"`{name}` must be a directory, got {value!r}, "
                         "which is a file")
    return path


def _file_names():
    return [f for files in _FILES.values() for f in files]


def _missing(source_dir, why):
    return (f"Fashion-MNIST is not in {str(source_dir)!r} (it needs "
            f"{', '.join(_file_names())}) and {why}. On Debian/Ubuntu "
            "install it with `apt-get install -y dataset-fashion-mnist` (it "
            f"puts the files in {DEBIAN_DIR}), or pass `source_dir=` a "
            "directory holding them.")


def _has_files(source_dir):
    return all((source_dir / f).is_file() for f in _file_names())


def _read_idx(path, ndim, data=True):
    """Returns the shape in the IDX header of `path` and its uint8 data."""
    def bad(what):
        return ValueError(f"`source_dir`={str(path.parent)!r}: {path.name} "
                          f"is not a {ndim}-d uint8 IDX file ({what})")

    try:
        with gzip.open(path, "rb") as f:
            header = f.read(4 * (1 + ndim))
            body = f.read() if data else b""
    except (OSError, EOFError) as err:  # not gzip, or truncated
        raise bad(err) from None
    if len(header) != 4 * (1 + ndim):
        raise bad("short header")
    magic, *shape = struct.unpack(f">{1 + ndim}I", header)
    if magic != 0x800 + ndim:
        raise bad(f"magic number {magic}, expected {0x800 + ndim}")
    if data and len(body) != np.prod(shape):
        raise bad(f"the header declares shape {tuple(shape)}, "
                  f"{int(np.prod(shape))} bytes, the file has {len(body)}")
    return tuple(shape), (np.frombuffer(body, np.uint8).reshape(shape)
                          if data else None)


def _read_split(source_dir, split, data=True):
    """Reads one split; the number of examples comes from the headers."""
    images_file, labels_file = _FILES[split]
    shape, images = _read_idx(source_dir / images_file, 3, data)
    (n,), labels = _read_idx(source_dir / labels_file, 1, data)
    where = f"`source_dir`={str(source_dir)!r}"
    if shape[1:] != (28, 28):
        raise ValueError(f"{where}: {images_file} holds images of "
                         f"{shape[1]}x{shape[2]} pixels, expected 28x28")
    if shape[0] != n:
        raise ValueError(f"{where}: {images_file} declares {shape[0]} "
                         f"images but {labels_file} {n} labels")
    if data and n and labels.max() > 9:
        raise ValueError(f"{where}: {labels_file} holds label "
                         f"{labels.max()}, expected 0..9")
    return images, labels


def _tfds():
    """tensorflow_datasets if it and TensorFlow import, else None."""
    try:
        import tensorflow  # noqa: F401  (TFDS builds data sets with it)
        import tensorflow_datasets
    except Exception:  # a broken install fails with many exception types
        return None
    return tensorflow_datasets


def _prepare(builder_class, data_dir, download_config=None):
    """Prepares `builder_class` in `data_dir` atomically; returns the root.

    The builder writes into a temporary directory inside the TFDS data
    directory (the same file system, so the final move is a rename); only
    the finished version directory is moved to its place.
    """
    builder = builder_class(data_dir=data_dir)
    root = Path(builder.data_dir_root)
    if builder.is_prepared():
        return os.fspath(root)
    made_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fashion_mnist-incomplete-",
                                    dir=root))
    try:
        staged = builder_class(data_dir=staging)
        staged.download_and_prepare(download_dir=staging / "downloads",
                                    download_config=download_config)
        final = Path(builder.data_dir)
        if final.exists():  # half-built by an older run: not prepared
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.data_dir, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if made_root and not any(root.iterdir()):
            root.rmdir()
    return os.fspath(root)


def prepare_fashion_mnist(source_dir=DEBIAN_DIR, data_dir=None):
    """Prepares TFDS's `fashion_mnist` from local IDX files, offline.

    Only for code that reads the data through `tfds.load`:
    `load_fashion_mnist` needs neither this nor tensorflow-datasets. After
    this, `tfds.load("fashion_mnist", data_dir=data_dir, download=False)`
    works without a network. Nothing is done if the dataset is already
    prepared in `data_dir`; if preparation fails, nothing is left in
    `data_dir`. See the module docstring for how the re-compressed Debian
    files pass TFDS's checksum check.

    Args:
        source_dir: directory holding the four `*-ubyte.gz` IDX files.
        data_dir: TFDS data directory; `None` is TFDS's default
            (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`).

    Returns:
        The TFDS data directory, as a string.

    Raises:
        ImportError: tensorflow-datasets or TensorFlow does not import.
        FileNotFoundError: the IDX files are not in `source_dir`.

    Example:

    ```python
    import tensorflow_datasets as tfds

    data_dir = keras_constrained.datasets.prepare_fashion_mnist()
    train = tfds.load("fashion_mnist", split="train", data_dir=data_dir,
                      download=False, as_supervised=True)
    ```
    """
    source_dir = _path("source_dir", source_dir)
    data_dir = _path("data_dir", data_dir, optional=True)
    tfds = _tfds()
    if tfds is None:
        raise ImportError(
            "`prepare_fashion_mnist` needs tensorflow-datasets and "
            f"TensorFlow (`{_INSTALL_TFDS}`); `load_fashion_mnist` needs "
            "neither.")
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

    return _prepare(LocalFashionMNIST, data_dir,
                    tfds.download.DownloadConfig(manual_dir=source_dir,
                                                 try_download_gcs=False))


def load_fashion_mnist(source_dir=DEBIAN_DIR, data_dir=None, download=True):
    """Loads Fashion-MNIST like `keras.datasets.fashion_mnist.load_data()`.

    Offline first, and with NumPy alone when the files are local: the four
    IDX files in `source_dir` are read directly (no TensorFlow, no
    tensorflow-datasets). Without them, tensorflow-datasets is used if it
    and TensorFlow import: its `fashion_mnist` prepared in `data_dir`, or
    downloaded and prepared there. Otherwise
    `keras.datasets.fashion_mnist.load_data()` downloads it. Neither
    download happens with `download=False`, and a failed TFDS preparation
    leaves nothing in `data_dir`.

    The IDX files and Keras keep the files' order; TFDS has its own fixed
    order (the same for any prepared `fashion_mnist`), so the paths return
    the same examples in different orders.

    Args:
        source_dir: directory holding the four `*-ubyte.gz` IDX files; the
            default is where Debian's `dataset-fashion-mnist` puts them.
            The number of examples is read from the files' headers.
        data_dir: TFDS data directory; `None` is TFDS's default
            (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`). Used only when
            the files are not in `source_dir`.
        download: bool, whether TFDS or Keras may download the data when
            it is neither in `source_dir` nor prepared in `data_dir`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(N, 28, 28)`
        and uint8 labels in `0..9`; 60000 training and 10000 test examples
        for the original files.

    Raises:
        FileNotFoundError: the data is nowhere local and cannot be
            downloaded; the message says what to install.
        ValueError: a file in `source_dir` is not a valid IDX file, or the
            counts in the image and label headers differ.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = (
        keras_constrained.datasets.load_fashion_mnist())
    x_train = x_train.astype("float32") / 255.0
    ```
    """
    source_dir = _path("source_dir", source_dir)
    data_dir = _path("data_dir", data_dir, optional=True)
    download = check_bool("download", download)
    if _has_files(source_dir):
        return tuple(_read_split(source_dir, split) for split in _FILES)

    tfds = _tfds()
    if tfds is not None:
        builder_class = tfds.image_classification.FashionMNIST
        if not download and not builder_class(data_dir=data_dir).is_prepared():
            raise FileNotFoundError(_missing(
                source_dir, "it is not prepared in `data_dir` (and "
                "`download=False`)"))
        try:
            data_dir = _prepare(builder_class, data_dir)
        except Exception as err:  # TFDS signals network failures with
            raise FileNotFoundError(  # many exception types
                _missing(source_dir, "TFDS could not download it")) from err
        splits = tfds.load("fashion_mnist", split=["train", "test"],
                           data_dir=data_dir, download=False, batch_size=-1,
                           as_supervised=True)
        return tuple((x[..., 0], y.astype(np.uint8))
                     for x, y in tfds.as_numpy(splits))

    if not download:
        raise FileNotFoundError(_missing(
            source_dir, "`download=False` (with `download=True`, "
            "`keras.datasets` downloads it)"))
    import keras

    try:
        return keras.datasets.fashion_mnist.load_data()
    except Exception as err:  # network failures come in many types
        raise FileNotFoundError(_missing(
            source_dir, "`keras.datasets.fashion_mnist.load_data()` could "
            "not download it")) from err
