"""A binary store of the columns RecBole parses from an atomic feature file, kept next to it, so that a
second load skips the text.

RecBole's ``Dataset._load_feat`` reads ``<dataset>.user`` (and ``.item``) with pandas' Python engine and
splits every ``float_seq`` cell in a Python loop: for ``pose-obe`` that is 2.3 s of a 3.2 s load for the
158 MB ``.user`` file (0.7 s tokenising, 1.6 s splitting the pose cells) and 0.7 s for the ``.item`` file.
Reading only the other columns from the text would still scan the whole file (0.3 s with pandas' C
engine, 0.6 s with RecBole's), so a file is served from the store only when every column RecBole would
load from it is stored; otherwise it is parsed from the text as RecBole does, and the store is
(re)written from what that parse returned.

Each column ``field`` of ``<file>`` (``<dataset>.user``, ``<dataset>.item``) is two files beside it:

* ``<file>.<field>.npy``: the column as RecBole's parse returned it, rows in file order: ``float_seq``
  as a 2-D float64 array (one row per line; only when all rows have one length), ``float`` as float64,
  ``token`` as a unicode array (only when no value is missing). float64, not float32: RecBole's
  normalisation and discretisation compute on these float64 values, so only they give the same dataset.
  A column that does not come back exactly as parsed is not stored (its file is then parsed each time).
* ``<file>.<field>.json``: what the array was made from -- the source file's size, ``st_mtime_ns``,
  ``st_ctime_ns``, inode and SHA-256 (:meth:`FeatureStore.same_source` says when the hash is read: only
  when ``os.stat`` alone cannot vouch for the content; hashing 158 MB takes 0.1-0.2 s), the field and its
  type, the parse settings that shape the column (``field_separator``, ``seq_separator``, ``encoding``,
  the field's ``seq_len``), and the array's dtype, shape, byte size and ``st_mtime_ns`` (so an array
  replaced or truncated after its record was written is not used).

A record is written after its array, each through :func:`~dataset_conversion.atomic.atomic_file`; one
record per column, so concurrent loads that read different columns never overwrite each other's. Anything
missing, unreadable, truncated, stale or inconsistent makes the file be parsed from text and the store
rewritten; a store that cannot be written costs only speed (:meth:`FeatureStore.save` says why).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from logging import getLogger
from pathlib import Path

import numpy as np
import pandas as pd

from dataset_conversion.atomic import atomic_file
from dataset_conversion.errors import DataError

FORMAT_VERSION = 1
STORED_SUFFIXES = ("user", "item")  # RecBole's feature files whose float_seq columns make a load slow
STORED_TYPES = ("token", "float", "float_seq")
FIELD_NAME = re.compile(r"[A-Za-z0-9_\-]+")  # fields whose store file names stay plain


def store_paths(feature_file: str | os.PathLike, field: str) -> tuple[Path, Path]:
    """``(<file>.<field>.npy, <file>.<field>.json)``: the array and the record of one column."""
    feature_file = Path(feature_file)
    stem = f"{feature_file.name}.{field}"
    return feature_file.with_name(stem + ".npy"), feature_file.with_name(stem + ".json")


def header_fields(feature_file: str | os.PathLike, field_separator: str, encoding: str) -> list[tuple[str, str]]:
    """``(field, type)`` of each column of an atomic file's header line, in file order (as RecBole reads it)."""
    with open(feature_file, "r", encoding=encoding) as handle:
        head = handle.readline()[:-1]
    return [tuple(field_type.split(":", 1)) for field_type in head.split(field_separator)]


def store_files(feature_file: str | os.PathLike, field_separator: str = "\t", encoding: str = "utf-8") -> list[Path]:
    """The store files of ``feature_file`` that exist (for the fields its header names)."""
    try:
        fields = [field for field, _ in header_fields(feature_file, field_separator, encoding)]
    except (OSError, ValueError):
        return []
    return [path for field in fields for path in store_paths(feature_file, field) if path.is_file()]


def remove_store(feature_file: str | os.PathLike, field_separator: str = "\t", encoding: str = "utf-8") -> list[Path]:
    """Delete the store of ``feature_file`` (only the files :func:`store_files` names); returns them."""
    removed = store_files(feature_file, field_separator, encoding)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def file_identity(feature_file: str | os.PathLike) -> dict:
    """What ``os.stat`` says of the file: size, ``st_mtime_ns``, ``st_ctime_ns`` and inode."""
    now = os.stat(feature_file)
    return {"size": now.st_size, "mtime_ns": now.st_mtime_ns, "ctime_ns": now.st_ctime_ns, "inode": now.st_ino}


def content_hash(feature_file: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes (hex)."""
    with open(feature_file, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def column_array(values: pd.Series, ftype: str) -> np.ndarray | None:
    """The column as an array that :func:`column_values` turns back into exactly ``values``, else None."""
    if ftype == "float_seq":
        rows = values.tolist()
        if not all(isinstance(row, np.ndarray) and row.dtype == np.float64 and row.ndim == 1 for row in rows):
            return None
        if len({len(row) for row in rows}) > 1:
            return None
        return np.stack(rows) if rows else np.empty((0, 0), dtype=np.float64)
    if ftype == "float":
        array = values.to_numpy()
        return array if array.dtype == np.float64 else None
    if ftype == "token":
        if not all(isinstance(value, str) for value in values.tolist()):
            return None  # a missing value (NaN) has no place in a unicode array
        array = np.array(values.tolist(), dtype=str)
        rebuilt = column_values(array, ftype)
        return array if rebuilt.dtype == values.dtype and rebuilt.equals(values.reset_index(drop=True)) else None
    return None


def column_values(array: np.ndarray, ftype: str):
    """The DataFrame column RecBole's parse gives, from a stored array (``float_seq``: a list of row views)."""
    if ftype == "float_seq":
        return list(array)
    if ftype == "token":
        return pd.Series(array, dtype=str)
    return pd.Series(array)


class FeatureStore:
    """The store of one atomic feature file, for the columns one load reads.

    Args:
        feature_file: the atomic file (``<data_path>/<dataset>.user``).
        fields: ``(field, type)`` of the columns the load reads, in file order.
        parse: the settings that shape a parsed column: ``field_separator``, ``seq_separator``,
            ``encoding`` and ``seq_len`` (RecBole's ``{field: length}`` or None).
    """

    def __init__(self, feature_file: str | os.PathLike, fields: list[tuple[str, str]], parse: dict):
        self.feature_file = Path(feature_file)
        self.fields = fields
        self.parse = parse
        self.logger = getLogger()
        self._identity = None
        self._hash = None

    @property
    def storable(self) -> bool:
        """Whether every column is of a type the store keeps, under a plain file name."""
        return all(ftype in STORED_TYPES and FIELD_NAME.fullmatch(field) for field, ftype in self.fields)

    def identity(self) -> dict:
        """:func:`file_identity` of the file, taken once (before it is parsed)."""
        if self._identity is None:
            self._identity = file_identity(self.feature_file)
        return self._identity

    def content_hash(self) -> str:
        if self._hash is None:
            self._hash = content_hash(self.feature_file)
        return self._hash

    def fingerprint(self) -> dict:
        """What a record keeps of the file it was made from: name, :meth:`identity` and SHA-256."""
        return {"name": self.feature_file.name, **self.identity(), "sha256": self.content_hash()}

    def same_source(self, source) -> bool:
        """Whether a record's ``source`` is this file as it is now: the same size and bytes.

        The bytes are hashed only when ``os.stat`` could have missed a change: a file rewritten in place
        gets a new ``st_ctime_ns`` (no tool can set it back) and one replaced by a rename a new inode, so
        when size, mtime, ctime and inode are all unchanged the content is too. A copy, a ``touch`` or
        a restored mtime is settled by the SHA-256.
        """
        if not isinstance(source, dict) or source.get("name") != self.feature_file.name:
            return False
        identity = self.identity()
        if source.get("size") != identity["size"]:
            return False
        if all(source.get(key) == value for key, value in identity.items()):
            return True
        return source.get("sha256") == self.content_hash()

    def expected_record(self, field: str, ftype: str) -> dict:
        """The record of a column of this file and parse settings, less its ``source`` and ``array``."""
        seq_len = self.parse["seq_len"] or {}
        return {
            "format_version": FORMAT_VERSION,
            "field": field,
            "type": ftype,
            "parse": {"field_separator": self.parse["field_separator"], "seq_separator": self.parse["seq_separator"],
                      "encoding": self.parse["encoding"], "seq_len": seq_len.get(field)},
        }

    # ------------------------------------------------------------------------------------ read

    def _read_record(self, field: str) -> dict | None:
        try:
            record = json.loads(store_paths(self.feature_file, field)[1].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and isinstance(record.get("source"), dict) else None

    def _fresh(self, field: str, ftype: str, record: dict | None) -> bool:
        """Whether ``record`` describes this file and settings, and its array file is the one it describes
        (size, mtime, and the dtype and shape in its header)."""
        if record is None or not isinstance(record.get("array"), dict):
            return False
        expected = self.expected_record(field, ftype)
        if any(record.get(key) != value for key, value in expected.items()) or not self.same_source(record["source"]):
            return False
        try:
            on_disk = os.stat(store_paths(self.feature_file, field)[0])
        except OSError:
            return False
        described = record["array"]
        if (on_disk.st_size, on_disk.st_mtime_ns) != (described.get("size"), described.get("mtime_ns")):
            return False
        try:
            header = np.load(store_paths(self.feature_file, field)[0], mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return False
        return header.dtype.str == described.get("dtype") and list(header.shape) == described.get("shape")

    def _read_array(self, field: str, ftype: str, record: dict) -> np.ndarray | None:
        """The column's array if its record is fresh (:meth:`_fresh`) and the array is what it describes."""
        if not self._fresh(field, ftype, record):
            return None
        try:
            return np.load(store_paths(self.feature_file, field)[0], allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None

    def load(self) -> tuple[pd.DataFrame, dict[str, int]] | None:
        """The DataFrame RecBole's parse would give and each ``float_seq`` field's length, or None if any
        column is not in the store or its store is not fresh."""
        self.identity()  # before any parse, so that save() sees a change made while the text was read
        records = {field: self._read_record(field) for field, _ in self.fields}
        if any(record is None for record in records.values()):
            return None
        if not all(self.same_source(record["source"]) for record in records.values()):
            return self._stale()
        arrays = {}
        for field, ftype in self.fields:
            array = self._read_array(field, ftype, records[field])
            if array is None:
                self.logger.info(f"pose store: {store_paths(self.feature_file, field)[0]} is missing, unreadable "
                                 f"or inconsistent; parsing {self.feature_file}")
                return None
            arrays[field] = array
        if len({len(array) for array in arrays.values()}) != 1:
            self.logger.info(f"pose store: the columns of {self.feature_file} differ in rows; parsing it")
            return None
        frame = pd.DataFrame(index=pd.RangeIndex(len(next(iter(arrays.values())))))
        for field, ftype in self.fields:
            frame[field] = column_values(arrays[field], ftype)
        seqlen = {field: arrays[field].shape[1] for field, ftype in self.fields if ftype == "float_seq"}
        self.logger.debug(f"pose store: loaded {', '.join(arrays)} of {self.feature_file}")
        return frame, seqlen

    def _stale(self) -> None:
        self.logger.info(f"pose store: {self.feature_file} changed since its store was written; parsing it")

    # ------------------------------------------------------------------------------------ write

    def save(self, frame: pd.DataFrame) -> str | None:
        """Store each column of ``frame`` (RecBole's parse of the file) that is not stored fresh already.

        Returns None, or why the store could not be written (a read-only folder, say): that never raises.
        """
        try:
            fingerprint = self.fingerprint()
            changed = file_identity(self.feature_file) != self.identity()
        except OSError as err:
            return f"cannot read {self.feature_file} again ({err.strerror or err})"
        if changed:
            self.logger.info(f"pose store: {self.feature_file} changed while it was read; not storing it")
            return None
        arrays = {}
        for field, ftype in self.fields:
            if self._fresh(field, ftype, self._read_record(field)):
                continue
            array = column_array(frame[field], ftype)
            if array is None:
                self.logger.debug(f"pose store: column {field} of {self.feature_file} cannot be stored exactly; "
                                  "the file is parsed on every load")
                return None
            arrays[field] = array
        for field, array in arrays.items():
            try:
                self._write_column(field, dict(self.fields)[field], array, fingerprint)
            except (OSError, DataError) as err:
                reason = getattr(err, "strerror", None) or str(err)
                return f"cannot write {store_paths(self.feature_file, field)[0]} ({reason})"
        return None

    def _write_column(self, field: str, ftype: str, array: np.ndarray, fingerprint: dict) -> None:
        array_path, record_path = store_paths(self.feature_file, field)
        with atomic_file(array_path, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        written = os.stat(array_path)
        record = {**self.expected_record(field, ftype), "source": fingerprint}
        record["array"] = {"dtype": array.dtype.str, "shape": list(array.shape),
                           "size": written.st_size, "mtime_ns": written.st_mtime_ns}
        with atomic_file(record_path, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=1)
            handle.write("\n")
