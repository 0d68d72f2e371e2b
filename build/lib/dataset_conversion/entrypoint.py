"""How every command-line entry point of the project ends: one line on stderr, a fixed exit code, no traceback.

* Bad usage (a value out of range, a missing option, an unknown choice): ``error: argument --seed: ...``
  naming the argument and what it allows; exit code 2 (:data:`EXIT_USAGE`).
* Bad input data (:class:`~dataset_conversion.errors.DataError`): ``error: <file>[, row R][, field F]: <what>``;
  exit code 2 (:data:`EXIT_DATA_ERROR`).
* Ctrl-C (SIGINT): ``interrupted``, exit code 130; SIGTERM: ``terminated``, exit code 143. Both unwind the
  stack first, so every ``atomic_directory`` / ``atomic_file`` in progress removes its temporary output.

A command builds its parser with :class:`ArgumentParser` (argparse with a one-line ``error``) and runs its
``main`` through :func:`run_main`.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from typing import Callable

from .errors import DataError

EXIT_OK = 0
EXIT_PARTIAL_FAILURE = 1
EXIT_USAGE = 2
EXIT_DATA_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(BaseException):
    """SIGTERM turned into an exception in the main thread, so that ``finally`` / ``except`` clean-ups run."""


def one_line(text: str) -> str:
    """``text`` with every whitespace run (newlines included) folded into one space."""
    return " ".join(str(text).split())


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are one ``error: ...`` line and exit code 2.

    Sub-parsers made with ``add_subparsers`` are of the same class (argparse's default).
    """

    def error(self, message: str):
        print(f"error: {one_line(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[low, high]`` (no upper bound when ``high`` is None)."""
    allowed = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def float_at_least(low: float, inclusive: bool = True) -> Callable[[str], float]:
    """An argparse ``type``: a finite float ``>= low`` (``> low`` when not ``inclusive``)."""
    allowed = f"a number {'>=' if inclusive else '>'} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def _raise_terminated(signum, frame):
    raise Terminated()


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run ``main(argv)`` and return its exit code, turning user errors and signals into one line each."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return main(argv)
    except SystemExit as exit_request:  # argparse: --help (0) or a usage error (2, already printed)
        code = exit_request.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_USAGE)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_DATA_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
