"""Hyper-parameter search, RecBole-style: ``python run_hyper.py --model=PoseRec --dataset=pose-obe
--params_file=properties/hyper/PoseRec.hyper [--algo exhaustive|random|bayes] [--tool hyperopt|ray] [--key=value ...]``.

Arguments, the parameters file, the results table and resuming are described in :mod:`recbole_poserec.hyper`.
"""

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import sys

from dataset_conversion.entrypoint import run_main
from recbole_poserec.hyper import main  # noqa: F401  (main: for calling it in-process)

if __name__ == "__main__":
    sys.exit(run_main(main))
