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

Several processes, RecBole's arguments: ``--nproc=N`` trains with DDP on N processes here (gloo on the
CPU, NCCL on GPUs: ``--gpu_id=0,1``); on several machines each runs the command with the same
``--world_size`` (processes in all), ``--ip`` and ``--port`` (of the machine holding rank 0) and its own
``--group_offset`` (the global rank of its first process). ``--nproc=1`` without ``--world_size`` is the
single-process run. A launch that cannot work (``--nproc=0``, a port in use) is one line naming the argument.
"""

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import argparse
import re
import sys

from dataset_conversion.entrypoint import ArgumentParser, run_main
from recbole_poserec.distributed import DEFAULT_IP, DEFAULT_PORT, Launch
from recbole_poserec.quick_start import run

SETTING = re.compile(r"--[^=\s]+=.*", re.DOTALL)


def main(argv=None) -> int:
    """Parse ``argv`` (None: ``sys.argv[1:]``) and run :func:`~recbole_poserec.quick_start.run`."""
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                            allow_abbrev=False)  # --conf=... is a setting, not --config_files
    parser.add_argument("--model", "-m", type=str, default="PoseRec", help="model name")
    parser.add_argument("--dataset", "-d", type=str, default="pose-obe", help="dataset name")
    parser.add_argument("--config_files", type=str, default=None, help="space-separated config files")
    parser.add_argument("--nproc", type=int, default=1, help="processes on this machine (DDP when > 1)")
    parser.add_argument("--world_size", type=int, default=-1, help="processes on all machines (-1: nproc)")
    parser.add_argument("--ip", type=str, default=DEFAULT_IP, help="the address of the machine of rank 0")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the port rank 0 listens on")
    parser.add_argument("--group_offset", type=int, default=0, help="the global rank of this machine's first process")
    args, settings = parser.parse_known_args(argv)
    for arg in settings:
        if not SETTING.fullmatch(arg):
            parser.error(f"unrecognized argument {arg!r}: settings are given as --key=value")
    config_files = args.config_files.split() if args.config_files else None
    launch = Launch(nproc=args.nproc, world_size=args.world_size, ip=args.ip, port=args.port,
                    group_offset=args.group_offset)
    run(config_file_list=config_files, command_line=[f"--model={args.model}", f"--dataset={args.dataset}", *settings],
        launch=launch)
    return 0


def console_main() -> int:
    """The ``recbole-poserec`` console script: :func:`main` with exit codes and one-line errors."""
    return run_main(main)


if __name__ == "__main__":
    sys.exit(console_main())
