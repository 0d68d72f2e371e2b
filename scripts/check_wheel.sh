#!/usr/bin/env bash
# The wheel stands alone: build it from the checkout's files, install it with its pinned dependencies
# into a scratch venv outside the repository, and from a scratch directory (nothing of the checkout
# importable) generate and convert a tiny synthetic dataset, then train 1 epoch and test PoseRec on it
# through the console script `recbole-poserec` and through `python -m recbole_poserec`.
# Usage: bash scripts/check_wheel.sh   (PYTHON: the interpreter that builds the wheel, default .venv/bin/python)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build_python="${PYTHON:-$repo/.venv/bin/python}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/recbole-poserec-wheel.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
started=$SECONDS

# 1. the wheel, built from a copy of the tracked and untracked-not-ignored files (a build/ folder left in
#    the checkout would put stale modules into the wheel)
mkdir "$scratch/source"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' path; do
        [[ -f "$path" && "$path" != build/* ]] && printf '%s\0' "$path"
      done \
    | tar --null -T - -cf -) | tar -C "$scratch/source" -xf -
quietly() {  # run "$@" with its output in pip.log, shown only when it fails
    "$@" >"$scratch/pip.log" 2>&1 || { tail -n 40 "$scratch/pip.log"; echo "check_wheel: '$*' failed" >&2; exit 1; }
}
quietly "$build_python" -m pip wheel --no-deps -w "$scratch/wheel" "$scratch/source"
wheel=("$scratch"/wheel/recbole_poserec-*.whl)

# 2. a scratch venv with the wheel and the dependencies it pins (the same set setup.sh installs)
python3.11 -m venv "$scratch/venv"
venv="$scratch/venv/bin"
quietly "$venv/python" -m pip install --upgrade "pip<25"
quietly "$venv/python" -m pip install "${wheel[0]}"

# 3. from another directory: the installed package only
mkdir "$scratch/work"
cd "$scratch/work"
unset PYTHONPATH
"$venv/python" - "$scratch/venv" <<'PY'
import sys
import dataset_conversion
import recbole_poserec
from recbole_poserec.config import PROPERTIES_DIR

for where in (recbole_poserec.__file__, dataset_conversion.__file__, PROPERTIES_DIR):
    assert where.startswith(sys.argv[1]), f"{where} is not inside the scratch venv"
PY
"$venv/python" -m dataset_conversion synth --raw raw --videos 12 --items 60
"$venv/python" -m dataset_conversion convert --raw raw --out data --name tiny --cache-dir text-cache

run_and_check() {
    local log="$1"
    shift
    if ! "$@" --model=PoseRec --dataset=tiny --data_path=data --epochs=1 --checkpoint_dir=saved >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "check_wheel: '$*' failed" >&2
        exit 1
    fi
    for line in "best valid" "test result" "ndcg@10"; do
        grep -q "$line" "$log" || { tail -n 40 "$log"; echo "check_wheel: '$*' printed no '$line'" >&2; exit 1; }
    done
    grep "test result" "$log" | tail -n 1
}
run_and_check console-script.log "$venv/recbole-poserec"
run_and_check python-m.log "$venv/python" -m recbole_poserec
echo "check_wheel: ${wheel[0]##*/} installed and trained outside the repository ($((SECONDS - started)) s)"
