"""Train and test a model, RecBole-style: ``python -m recbole_poserec --model=PoseRec --dataset=pose-obe [--key=value ...]``.

Also installed as the console script ``recbole-poserec``; ``run_recbole.py`` at the repository root
runs the same. ``--model`` may name a plug-in model (recbole_poserec/model/) or any RecBole built-in;
``--config_files`` takes space-separated YAML files; any other ``--key=value`` overrides a setting
(read by the plug-in's ``Config``: a Python literal, ``true``/``false``, or else a string). A dataset
converted by ``python -m dataset_conversion convert`` gets the packaged dataset YAML of its level
(see :mod:`recbole_poserec.config`), so ``--dataset=NAME --data_path=DIR`` is enough for it.

Errors: a bad argument or setting -- an unknown model, a dataset folder that does not exist (other
than the generated defaults pose-obe and pose-obe-cat), a missing or malformed config file, a value of
another type than the setting it overrides (``--learning_rate=abc``), a value out of range
(``--epochs=-1``, ``--gpu_id=abc``), a ``data_path`` or ``checkpoint_dir`` that is a file -- is one
``error: ...`` line on stderr naming where it came from, exit code 2, before any data is loaded.
Ctrl-C exits with 130 (``interrupted``), SIGTERM with 143 (``terminated``).
"""

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import argparse
import re
import sys

from dataset_conversion.entrypoint import ArgumentParser, run_main
from recbole_poserec.quick_start import run_recbole

SETTING = re.compile(r"--[^=\s]+=.*", re.DOTALL)


def main(argv=None) -> int:
    """Parse ``argv`` (None: ``sys.argv[1:]``) and run :func:`~recbole_poserec.quick_start.run_recbole`."""
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                            allow_abbrev=False)  # --conf=... is a setting, not --config_files
    parser.add_argument("--model", "-m", type=str, default="PoseRec", help="model name")
    parser.add_argument("--dataset", "-d", type=str, default="pose-obe", help="dataset name")
    parser.add_argument("--config_files", type=str, default=None, help="space-separated config files")
    args, settings = parser.parse_known_args(argv)
    for arg in settings:
        if not SETTING.fullmatch(arg):
            parser.error(f"unrecognized argument {arg!r}: settings are given as --key=value")
    config_files = args.config_files.split() if args.config_files else None
    run_recbole(config_file_list=config_files,
                command_line=[f"--model={args.model}", f"--dataset={args.dataset}", *settings])
    return 0


def console_main() -> int:
    """The ``recbole-poserec`` console script: :func:`main` with exit codes and one-line errors."""
    return run_main(main)


if __name__ == "__main__":
    sys.exit(console_main())
