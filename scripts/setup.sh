#!/usr/bin/env bash
# Sets up a fresh machine: a virtual environment in .venv with the package,
# all three Keras backends, the tutorial, TFDS and dev extras (tests, and
# build and twine for the packaging tests), and Debian's Fashion-MNIST
# files. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# Pinned first: 2.13.0 is the CPU build (a file on disk on these machines);
# an unpinned torch pulls CUDA. The [torch] extra's range keeps it.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[jax,tensorflow,torch,tutorials,tfds,dev]"

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq dataset-fashion-mnist
fi
