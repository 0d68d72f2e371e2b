"""The shared shape of the plug-in's small command-line tools: parse, run, print, one line per error.

Exit codes and messages are :mod:`dataset_conversion.entrypoint`'s: 0 done; 2 bad usage (argparse,
``error: argument ...``) or bad input (a :class:`~dataset_conversion.errors.DataError`,
``error: <file>: ...``); 130 on Ctrl-C, 143 on SIGTERM (one line each, no traceback).
"""

from __future__ import annotations

import os
import sys
from typing import Callable

from dataset_conversion.entrypoint import EXIT_OK, run_main

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `command | head` cut short


def print_output(output) -> int:
    """Print ``output``; a reader that went away (``| head``) ends the command quietly."""
    try:
        print(output)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush does not fail again
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    return EXIT_OK


def run_command(build_parser: Callable, run: Callable, argv: list[str] | None = None) -> int:
    """Parse ``argv`` with ``build_parser()`` (an :class:`~dataset_conversion.entrypoint.ArgumentParser`),
    print ``run(args)``; returns the exit code."""

    def main(arguments: list[str] | None) -> int:
        args = build_parser().parse_args(arguments)
        return print_output(run(args))

    return run_main(main, argv)
