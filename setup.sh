#!/usr/bin/env bash
# One-command set-up: creates .venv in the repository root and installs the pinned stack into it
# (pyproject.toml's dependencies: the same set a `pip install` of the wheel brings, see scripts/check_wheel.sh).
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade "pip<25"
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/python -c "import recbole, torch, mediapipe, transformers; print('recbole', recbole.__version__, '| torch', torch.__version__, '| mediapipe', mediapipe.__version__, '| transformers', transformers.__version__)"
