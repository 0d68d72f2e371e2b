"""The one error type for bad input data: its message is a single line naming file, row and field."""

from __future__ import annotations

import os


class DataError(Exception):
    """Malformed input. ``str(err)`` is one line: ``<file>[, row R][, field F]: <what is wrong>``.

    ``row`` is the 1-based data row (the header is row 0), as a user sees it in a spreadsheet.
    """

    def __init__(self, file: str | os.PathLike, message: str, row: int | None = None, field: str | None = None):
        self.file = os.fspath(file)
        self.row = row
        self.field = field
        self.message = " ".join(str(message).split())
        where = self.file
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {self.message}")
