"""How every command-line entry point of the project ends: one line on stderr, a fixed exit code, no traceback.

* Bad usage (a value out of range, a missing option, an unknown choice): ``error: argument --seed: ...``
  naming the argument and what it allows; exit code 2 (:data:`EXIT_USAGE`).
* Bad input data (:class:`~dataset_conversion.errors.DataError`): ``error: <file>[, row R][, field F]: <what>``;
  exit code 2 (:data:`EXIT_DATA_ERROR`).
* Ctrl-C (SIGINT): ``interrupted``, exit code 130; SIGTERM: ``terminated``, exit code 143. Both unwind the
  stack first, so every ``atomic_directory`` / ``atomic_file`` in progress removes its temporary output.

A command builds its parser with :class:`ArgumentParser` (argparse with a one-line ``error``) and runs its
``main`` through :func:`run_main`. A command module's first statement is
:func:`install_startup_signal_handlers`, so that a signal during its (heavy) imports, before
:func:`run_main` runs, ends the program the same way.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from pathlib import Path
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


def path_argument(text: str) -> Path:
    """An argparse ``type``: a non-empty path (``--out ""`` would otherwise mean the current directory or nothing)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r}")
    return Path(text)


path_argument.__name__ = "path"


# Python's own handlers, which a fresh interpreter starts with
_PYTHON_DEFAULT_HANDLERS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
_STARTUP_EXITS = {signal.SIGINT: (b"interrupted\n", EXIT_INTERRUPTED),
                  signal.SIGTERM: (b"terminated\n", EXIT_TERMINATED)}
_starting_modules: list[dict] = []  # globals of the command modules that installed the start-up handlers


def _command_starting(frame) -> bool:
    """Whether ``frame`` runs inside the module-level code of a command module (its imports, its
    ``if __name__ == "__main__"`` line), i.e. before :func:`run_main` took over."""
    while frame is not None:
        if frame.f_code.co_name == "<module>" and any(frame.f_globals is g for g in _starting_modules):
            return True
        frame = frame.f_back
    return False


def _startup_signal_handler(signum, frame):
    if _command_starting(frame):
        line, code = _STARTUP_EXITS[signum]
        os.write(2, line)
        os._exit(code)  # nothing has been written yet, and no clean-up is pending
    # the module was imported as a library (tests, a notebook): what Python would have done
    if signum == signal.SIGINT:
        signal.default_int_handler(signum, frame)
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def install_startup_signal_handlers() -> None:
    """The first statement of a command module: until :func:`run_main` takes over, SIGINT / SIGTERM
    print ``interrupted`` / ``terminated`` and exit with 130 / 143 at once, instead of a
    ``KeyboardInterrupt`` traceback out of an import or a silent death by SIGTERM.

    Only Python's default handlers are replaced (a process that set its own, or ignores a signal, keeps
    them), and only the caller's start-up counts: a signal while the module is merely imported by
    another program, once that import is done, does what Python's default would.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    _starting_modules.append(sys._getframe(1).f_globals)
    for signum, default in _PYTHON_DEFAULT_HANDLERS.items():
        if signal.getsignal(signum) is default:
            signal.signal(signum, _startup_signal_handler)


def _raise_terminated(signum, frame):
    raise Terminated()


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run ``main(argv)`` and return its exit code, turning user errors and signals into one line each.

    Afterwards the previous signal handlers are back, except start-up ones
    (:func:`install_startup_signal_handlers`), which give way to Python's defaults for good: by then
    output has been written, which an ``os._exit`` could lose.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main_thread:
        previous = {signum: signal.getsignal(signum) for signum in _PYTHON_DEFAULT_HANDLERS}
        signal.signal(signal.SIGTERM, _raise_terminated)
        if previous[signal.SIGINT] is _startup_signal_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
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
        for signum, handler in previous.items():
            if handler is _startup_signal_handler:
                handler = _PYTHON_DEFAULT_HANDLERS[signum]
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(signum, handler)
