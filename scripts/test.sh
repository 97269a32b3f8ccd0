#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then runs the whole test suite
# once per Keras backend, one pytest process each. Extra arguments go to
# pytest. Fails if any backend fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
. .venv/bin/activate

failed=""
for backend in jax tensorflow torch; do
  echo "=== KERAS_BACKEND=$backend"
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider "$@" \
    || failed="$failed $backend"
done
if [ -n "$failed" ]; then
  echo "tests failed on:$failed" >&2
  exit 1
fi
