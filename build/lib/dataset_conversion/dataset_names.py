"""Dataset names: the one rule for a name that becomes a directory (and a file prefix) under ``--out``.

A dataset name is a single path component that cannot point anywhere but ``<out>/<name>``: not empty,
not ``.`` or ``..``, no ``/`` or ``\\``, no leading ``.`` (the commands' temporaries are ``.<name>.tmp-...``),
no whitespace or control characters, at most :data:`MAX_NAME_LENGTH` characters (file names
``<name>.train.inter`` and the temporaries must stay under the file system's 255-byte limit).
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from pathlib import Path
from typing import Callable

from .errors import DataError

MAX_NAME_LENGTH = 200
ALLOWED = (
    "a single directory name: not empty, no '/' or '\\', not starting with '.', "
    f"no spaces or control characters, at most {MAX_NAME_LENGTH} characters"
)


def _shown(name) -> str:
    text = repr(name)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(name)} characters)"


def name_problem(name) -> str | None:
    """What is wrong with ``name`` as a dataset name, or None if it is a valid one."""
    if not isinstance(name, str):
        return f"expected {ALLOWED}, got {_shown(name)}"
    bad = (
        name in ("", ".", "..")
        or name.startswith(".")
        or "/" in name
        or "\\" in name
        or len(name) > MAX_NAME_LENGTH
        or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_LENGTH
        or any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in name)
    )
    return f"expected {ALLOWED}, got {_shown(name)}" if bad else None


def check_dataset_name(name, argument: str = "name") -> str:
    """``name`` if it is a valid dataset name, else :class:`DataError` naming ``argument``."""
    problem = name_problem(name)
    if problem is not None:
        raise DataError(argument, problem)
    return name


def dataset_name_type(text: str) -> str:
    """An argparse ``type`` for a dataset name (usage error: one line, exit 2)."""
    problem = name_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


dataset_name_type.__name__ = "dataset name"


def category_dataset_name(name: str, cat_name: str | None = None, argument: str = "cat_name",
                          name_argument: str = "name") -> str:  # fmt: skip
    """The category-level name of ``--level both``: ``cat_name`` (default ``<name>-cat``), checked and
    distinct from ``name`` (the second level would otherwise replace the first); ``name`` is checked too."""
    check_dataset_name(name, name_argument)
    cat_name = f"{name}-cat" if cat_name is None else cat_name
    check_dataset_name(cat_name, argument)
    if cat_name == name:
        raise DataError(argument, f"must differ from the instance-level name {name!r}")
    return cat_name


def written_by_convert(name: str) -> Callable[[Path], bool]:
    """Whether a directory is an earlier ``convert`` output of dataset ``name``: it holds the converter's
    ``<name>.meta.json`` naming that dataset (what :func:`~dataset_conversion.atomic.atomic_directory`
    may replace)."""

    def check(directory: Path) -> bool:
        try:
            meta = json.loads((Path(directory) / f"{name}.meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(meta, dict) and meta.get("dataset") == name and "format_version" in meta

    return check
