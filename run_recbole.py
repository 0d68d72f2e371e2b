"""Entry point, RecBole-style: ``python run_recbole.py --model=PoseRec --dataset=pose-obe [--key=value ...]``.

The same command as ``python -m recbole_poserec`` and the installed ``recbole-poserec``; arguments,
settings and errors are described in :mod:`recbole_poserec.__main__`.
"""

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import sys

from recbole_poserec.__main__ import console_main, main  # noqa: F401  (main: for calling it in-process)

if __name__ == "__main__":
    sys.exit(console_main())
