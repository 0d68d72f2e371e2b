"""Token cells that RecBole reads back exactly: the rule is asked of pandas itself, not hand-typed.

RecBole 1.2.1 (``Dataset._load_feat``) reads every atomic file with
``pd.read_csv(path, delimiter='\\t', usecols=..., dtype=str, encoding=..., engine='python')``, i.e. with
pandas' default missing-value list and default quoting. So a token cell may be read back as something
else than what was written:

* a value on pandas' missing-value list (``NA``, ``null``, ``nan``, ``None``, ``N/A``, ``#N/A``, ... and
  the empty string) becomes NaN, quoted or not -- no cell can carry it;
* a cell starting with ``"`` opens a quoted field (``"Pro" racket`` is a parser error) -- written as
  one CSV-quoted field (enclosed in quotes, its own quotes doubled) it reads back exactly.

:func:`misread` finds the values a cell does not carry by parsing the cells once through
:data:`RECBOLE_READ_CSV` (bisecting only when a parse fails, to find which values broke it);
:func:`token_cells` gives the cells for a column: each value as it is where that reads back, CSV-quoted
where only quoting makes it read back, and a mask of the values that no cell can carry. Cells never
hold a tab or a line break (the raw reader rejects or folds whitespace first).
"""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np
import pandas as pd

_HEADER = "token:token"
# RecBole 1.2.1's read of a token column (Dataset._load_feat), less the file and the column selection.
RECBOLE_READ_CSV = dict(delimiter="\t", dtype={_HEADER: str}, encoding="utf-8", engine="python")


def read_as_recbole(cells: Sequence[str]) -> list | None:
    """What RecBole reads from a one-column token file holding ``cells``; None if the rows do not come back.

    Missing values come back as NaN (a float), so they never equal a written string.
    """
    text = _HEADER + "\n" + "".join(f"{cell}\n" for cell in cells)
    try:
        frame = pd.read_csv(io.StringIO(text), **RECBOLE_READ_CSV)
    except (pd.errors.ParserError, ValueError):
        return None
    values = frame[_HEADER].tolist() if _HEADER in frame else []
    return values if len(values) == len(cells) else None


def _misread_into(values: list[str], cells: list[str], offset: int, bad: np.ndarray) -> None:
    back = read_as_recbole(cells)
    if back is not None:
        bad[offset : offset + len(values)] = [b != v for b, v in zip(back, values)]
    elif len(cells) == 1:
        bad[offset] = True
    else:  # the parse broke somewhere: find where by halves (rare; one parse when all is well)
        half = len(cells) // 2
        _misread_into(values[:half], cells[:half], offset, bad)
        _misread_into(values[half:], cells[half:], offset + half, bad)


def misread(values: Sequence[str], cells: Sequence[str] | None = None) -> np.ndarray:
    """Boolean mask: where RecBole would not read ``cells`` (default: the values as they are) back as ``values``."""
    values = [str(v) for v in values]
    cells = values if cells is None else [str(c) for c in cells]
    bad = np.zeros(len(values), dtype=bool)
    if values:
        _misread_into(values, cells, 0, bad)
    return bad


def csv_quoted(value: str) -> str:
    """``value`` as one CSV-quoted field (quotes doubled), the form pandas' python engine unquotes."""
    return '"' + value.replace('"', '""') + '"'


def token_cells(values: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Cells that RecBole reads back as ``values``, and a mask of the values no cell can carry.

    A value is written as it is wherever that reads back (so ordinary values are unchanged), else
    CSV-quoted; where even the quoted cell does not read back (a missing-value word), the mask is True
    and the cell is the unquoted value.
    """
    values = [str(v) for v in values]
    cells = list(values)
    retry = np.flatnonzero(misread(values))
    unrepresentable = np.zeros(len(values), dtype=bool)
    if len(retry):
        quoted = [csv_quoted(values[i]) for i in retry]
        still_bad = misread([values[i] for i in retry], quoted)
        for i, cell, bad in zip(retry, quoted, still_bad):
            if bad:
                unrepresentable[i] = True
            else:
                cells[i] = cell
    return cells, unrepresentable
