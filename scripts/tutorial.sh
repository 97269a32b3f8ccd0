#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then runs one tutorial as a
# script: `bash scripts/tutorial.sh [tutorial.py] [backend]`. The backend
# is the second argument if given, else Keras' own choice (KERAS_BACKEND,
# else ~/.keras/keras.json, else tensorflow). Figures are written to the
# current directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
tutorial="${1:-$root/tutorials/constraints_with_stock_optimizers.py}"
if [ -n "${2:-}" ]; then
  export KERAS_BACKEND="$2"
fi
MPLBACKEND=Agg exec "$root/.venv/bin/python" "$tutorial"
