"""The shared shape of the plug-in's small command-line tools: parse, run, report bad input in one line."""

from __future__ import annotations

import sys
from typing import Callable

from dataset_conversion.errors import DataError


def run_command(build_parser: Callable, run: Callable, argv: list[str] | None = None) -> int:
    """Parse ``argv`` with ``build_parser()``, print ``run(args)``; returns the exit code.

    0: done; 1: bad input (a :class:`DataError`, printed as one ``error:`` line on stderr);
    2 (or argparse's own code): bad usage or ``--help``, already reported by argparse.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code if isinstance(exit_request.code, int) else 2
    try:
        output = run(args)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(output)
    return 0
