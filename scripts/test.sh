#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then runs the whole test suite
# once per Keras backend, one pytest process each. Extra arguments go to
# pytest. Fails if any backend fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
. .venv/bin/activate

# The three processes run side by side: each is mostly single-threaded
# (tracing and compiling), so on a 2-core machine this takes about 60% of
# the time of running them one after another. Each one's output is shown
# when it ends.
logs=$(mktemp -d)
backends=(jax tensorflow torch)
pids=()
for backend in "${backends[@]}"; do
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider "$@" \
    > "$logs/$backend.log" 2>&1 &
  pids+=($!)
done
failed=""
for i in "${!backends[@]}"; do
  wait "${pids[$i]}" || failed="$failed ${backends[$i]}"
  echo "=== KERAS_BACKEND=${backends[$i]}"
  cat "$logs/${backends[$i]}.log"
done
rm -rf "$logs"
if [ -n "$failed" ]; then
  echo "tests failed on:$failed" >&2
  exit 1
fi
