#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then runs the whole test suite
# once per Keras backend, one pytest process each, and the packaging tests
# (tests/packaging: the sdist and wheel, and the README's quickstart run from
# the wheel in a fresh venv) once, in a pytest process of their own. Extra
# arguments go to the backend runs; with any, the packaging run is left out.
# Fails if any run fails or runs no test (pytest's exit code 5).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
. .venv/bin/activate

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
declare -A run_of   # background pid -> run name
failed=""
walls=""

# start NAME BACKEND PYTEST_ARGS...: one timed pytest process, in the
# background, its output kept in $logs/NAME.log.
start() {
  local name=$1 backend=$2
  shift 2
  (
    begin=$(date +%s)
    KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider "$@" \
      > "$logs/$name.log" 2>&1
    rc=$?
    echo $(($(date +%s) - begin)) > "$logs/$name.wall"
    exit $rc
  ) &
  run_of[$!]=$name
}

# report NAME RC: shows a run's output and wall time when it ends.
report() {
  local name=$1 rc=$2 wall
  wall="$(cat "$logs/$name.wall" 2>/dev/null || echo '?') s"
  echo "=== $name: exit $rc, wall time $wall"
  cat "$logs/$name.log"
  walls="$walls $name=$wall,"
  if [ "$rc" = 5 ]; then
    echo "=== $name: pytest ran no tests (exit 5): a failure"
  fi
  [ "$rc" = 0 ] || failed="$failed $name"
}

# The three backend runs go side by side: each is mostly single-threaded
# (tracing and compiling), so on a 2-core machine this takes about 60% of
# the time of running them one after another.
for backend in jax tensorflow torch; do
  start "$backend" "$backend" --ignore=tests/packaging "$@"
done
# The packaging run (a couple of minutes, mostly installing torch) starts
# when the first backend run ends, on the core that run leaves free.
packaging_pending=1
if [ $# -gt 0 ]; then
  packaging_pending=0
  echo "=== packaging: left out (arguments given); run it with" \
    "python -m pytest -m wheel tests/packaging"
fi
while [ ${#run_of[@]} -gt 0 ]; do
  wait -n -p pid
  rc=$?
  name=${run_of[$pid]}
  unset "run_of[$pid]"
  report "$name" "$rc"
  if [ "$packaging_pending" = 1 ]; then
    packaging_pending=0
    start packaging torch -m wheel --durations=0 tests/packaging
  fi
done

echo "wall times:${walls%,}"
if [ -n "$failed" ]; then
  echo "tests failed on:$failed" >&2
  exit 1
fi
