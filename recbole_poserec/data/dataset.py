"""RecBole's dataset classes, loading the feature files through the binary store of
:mod:`recbole_poserec.data.pose_store` and filtering benchmark files as RecBole filters one ``.inter``
file, and the plug-in's ``create_dataset``.

With ``pose_store: True`` (``properties/overall.yaml``) a ``.user`` or ``.item`` file with a ``float_seq``
column is read from its store when that is fresh, else parsed by RecBole and the store (re)written. The
dataset is the same either way: the store holds exactly the columns RecBole's parse returned.

The positive rule (``docs/evaluation.md``): RecBole 1.2.1 skips ``_data_filtering`` (``val_interval``, ...)
when ``benchmark_filename`` is set; :class:`BenchmarkFilteringMixin` runs it on the concatenated benchmark
files and recounts ``file_size_list``, so every split ``build()`` cuts holds only the rows inside
``val_interval`` (Pose-OBE: score > 0). ``train_nonpositive_as_negatives: True`` keeps the train file's
other rows (label 0) in the train split, for the models that learn from the label.

Pose normalisation (``pose_normalisation``, :mod:`dataset_conversion.pose_normalisation`): every model reads
its pose features normalised the same way. :class:`PoseNormalisationMixin` replaces a loaded ``pose`` column
by the normalised windows and recomputes a loaded ``pose_pca`` from them as the converter computes it (fitted
on the train split's windows only); the pose store keeps the raw parsed columns.
"""

from __future__ import annotations

import importlib
import inspect
import os

import numpy as np
import pandas as pd
from recbole.data import dataset as recbole_datasets
from recbole.utils import FeatureSource, FeatureType, InputType, ModelType

from dataset_conversion.convert import POSE_PCA_FIELD, standardized_pca
from dataset_conversion.errors import DataError
from dataset_conversion.layout import NUM_CHANNELS, NUM_LANDMARKS, POSE_FIELD
from dataset_conversion.pose_normalisation import check_pose_normalisation, normalise_windows
from recbole_poserec.data.pose_store import STORED_SUFFIXES, FeatureStore, header_fields

NONPOSITIVE_SETTING = "train_nonpositive_as_negatives"
NORMALISATION_SETTING = "pose_normalisation"
SOURCE_ROW = "__source_row__"  # a row's position in the concatenated benchmark files, during filtering only

# recbole.data.utils.create_dataset's choice when there is no ``<model>Dataset`` class
MODEL_TYPE_DATASETS = {
    ModelType.GENERAL: "Dataset",
    ModelType.SEQUENTIAL: "SequentialDataset",
    ModelType.CONTEXT: "Dataset",
    ModelType.KNOWLEDGE: "KnowledgeBasedDataset",
    ModelType.TRADITIONAL: "Dataset",
    ModelType.DECISIONTREE: "Dataset",
}


class PoseStoreMixin:
    """Overrides :meth:`recbole.data.dataset.Dataset._load_feat` to read the store of a feature file."""

    def _load_feat(self, filepath, source):
        if not self.config["pose_store"] or getattr(source, "value", None) not in STORED_SUFFIXES:
            return super()._load_feat(filepath, source)
        store = self._feature_store(filepath, source)
        if store is None:
            return super()._load_feat(filepath, source)
        loaded = store.load()
        if loaded is None:
            frame = super()._load_feat(filepath, source)
            problem = store.save(frame)
            if problem and not getattr(self, "_pose_store_warned", False):
                self._pose_store_warned = True  # one line per dataset load, however many files
                self.logger.warning(f"pose store: {problem}; the dataset's feature files are parsed from text "
                                    "on every load (set pose_store: False to stop trying)")
            return frame
        frame, seqlen = loaded
        for field, ftype in store.fields:  # the field properties RecBole's parse sets
            ftype = FeatureType(ftype)
            self.field2source[field] = source
            self.field2type[field] = ftype
            self.field2seqlen[field] = seqlen[field] if ftype == FeatureType.FLOAT_SEQ else 1
            if ftype == FeatureType.FLOAT_SEQ or ftype == FeatureType.FLOAT:
                self.field2bucketnum[field] = 2
        return frame

    def _feature_store(self, filepath, source: FeatureSource) -> FeatureStore | None:
        """The store for the columns this load reads, or None when the file has no ``float_seq`` column
        among them or a column the store does not keep (RecBole's parse then runs, and raises its errors)."""
        load_col, unload_col = self._get_load_and_unload_col(source)
        if load_col == set() or (load_col and unload_col):
            return None
        try:
            header = header_fields(filepath, self.config["field_separator"], self.config["encoding"])
        except (OSError, ValueError):
            return None
        if any(len(column) != 2 for column in header):
            return None
        fields = [(field, ftype) for field, ftype in header
                  if (load_col is None or field in load_col) and (unload_col is None or field not in unload_col)]
        if not any(ftype == FeatureType.FLOAT_SEQ.value for _, ftype in fields):
            return None
        parse = {key: self.config[key] for key in ("field_separator", "seq_separator", "encoding", "seq_len")}
        store = FeatureStore(filepath, fields, parse)
        return store if store.storable else None


class BenchmarkFilteringMixin:
    """RecBole's ``_data_filtering`` for ``benchmark_filename`` datasets too, with the files' boundaries kept.

    RecBole 1.2.1 filters (``val_interval``, ``rm_dup_inter``, ``filter_inter_by_user_or_item``, the
    interaction-number intervals) only a dataset read from one ``.inter`` file; ``build()`` then cuts the
    benchmark splits at the cumulative ``file_size_list``, the row counts *as read*. Here the same
    ``_data_filtering`` runs on the concatenated files before ids are remapped, each row tagged with its
    position in the files, and afterwards the rows are grouped by file (their order within a file kept) and
    ``file_size_list`` is recounted, so that every row stays in the split of its file.

    ``train_nonpositive_as_negatives: True``: the rows of the first (train) file that ``val_interval`` drops are
    put back, so the train split holds them beside the positives; their ``LABEL_FIELD`` must be 0 (the
    converter's label), that of every other kept row 1. Valid and test keep only the rows inside
    ``val_interval`` either way. :func:`create_dataset` allows the setting only where the label reaches the loss.
    """

    def _data_processing(self):
        if self.benchmark_filename_list is not None:
            self.feat_name_list = self._build_feat_name_list()
            self._filter_benchmark_files()
        super()._data_processing()

    def _filter_benchmark_files(self):
        """``_data_filtering`` on the benchmark files; ``file_size_list`` recounted; labels checked."""
        read_sizes = np.asarray(self.file_size_list, dtype=np.int64)
        self.inter_feat[SOURCE_ROW] = np.arange(len(self.inter_feat), dtype=np.int64)
        self._known_negative_rows = np.empty(0, dtype=np.int64)
        self._data_filtering()
        rows = self.inter_feat.pop(SOURCE_ROW).to_numpy()
        files = np.searchsorted(np.cumsum(read_sizes), rows, side="right")
        if np.any(np.diff(files) < 0):  # a step reordered rows (rm_dup_inter sorts by TIME_FIELD)
            order = np.argsort(files, kind="stable")
            self.inter_feat = self.inter_feat.iloc[order].reset_index(drop=True)
            rows, files = rows[order], files[order]
        self.file_size_list = np.bincount(files, minlength=len(read_sizes)).tolist()
        for part, size in enumerate(self.file_size_list):
            if size == 0:
                raise DataError(self._benchmark_file(part), f"no row is left after the data filtering (val_interval "
                                                            f"{self.config['val_interval']}): the split would be empty")
        self._check_labels(rows, files, np.concatenate([[0], np.cumsum(read_sizes)[:-1]]))

    def _filter_by_field_value(self):
        """RecBole's ``val_interval`` filter; with ``train_nonpositive_as_negatives`` the train file's rows it
        drops are put back (and remembered as the known negatives)."""
        keep_train = self.benchmark_filename_list is not None and self.config[NONPOSITIVE_SETTING] is True
        before = self.inter_feat.copy() if keep_train else None
        super()._filter_by_field_value()
        if keep_train:
            dropped = before[~before.index.isin(self.inter_feat.index)]
            known = dropped[dropped[SOURCE_ROW] < self.file_size_list[0]]
            self.inter_feat = pd.concat([self.inter_feat, known]).sort_values(SOURCE_ROW, kind="stable")
            self._known_negative_rows = known[SOURCE_ROW].to_numpy()

    def _check_labels(self, rows: np.ndarray, files: np.ndarray, file_starts: np.ndarray):
        """Every kept row's ``LABEL_FIELD`` is 1, a known negative's 0 (when the label is loaded): the label
        and ``val_interval`` must say the same (the converter writes label 1 exactly where score > 0)."""
        if not self.config["val_interval"] or self.label_field not in self.inter_feat \
                or self.config["threshold"] is not None:
            return  # no rule, no label, or RecBole's threshold makes the label later
        expected = np.where(np.isin(rows, self._known_negative_rows), 0.0, 1.0)
        wrong = np.flatnonzero(self.inter_feat[self.label_field].to_numpy(dtype=float) != expected)
        if len(wrong):
            first = wrong[0]
            what = "a known negative (outside val_interval)" if expected[first] == 0 else \
                "a positive (inside val_interval)"
            raise DataError(self._benchmark_file(files[first]),
                            f"label {self.inter_feat[self.label_field].iat[first]} on {what}: the label must be "
                            f"{int(expected[first])} there (val_interval {self.config['val_interval']})",
                            row=int(rows[first] - file_starts[files[first]]) + 1, field=self.label_field)

    def _benchmark_file(self, part: int) -> str:
        return os.path.join(self.dataset_path, f"{self.dataset_name}.{self.benchmark_filename_list[part]}.inter")


class PoseNormalisationMixin:
    """``pose_normalisation`` applied to the ``.user`` file's pose features right after loading, before RecBole
    processes anything, so that every model reads the same normalised poses.

    A loaded ``pose`` column becomes the normalised windows. A loaded ``pose_pca`` is recomputed from the
    normalised windows with the converter's :func:`dataset_conversion.convert.standardized_pca`, fitted on the
    train split's windows only (those of the first benchmark file, as the converter fits it) and with the
    file's ``pose_pca`` dimension; ``pose`` is then read too (:meth:`_get_load_and_unload_col`) and dropped
    again when the model did not ask for it. With ``none`` nothing changes.
    """

    def _get_load_and_unload_col(self, source):
        load_col, unload_col = super()._get_load_and_unload_col(source)
        if getattr(source, "value", source) != FeatureSource.USER.value or pose_normalisation(self.config) == "none":
            return load_col, unload_col
        if load_col and POSE_PCA_FIELD in load_col:
            load_col = load_col | {POSE_FIELD}
        if unload_col and POSE_FIELD in unload_col and POSE_PCA_FIELD not in unload_col:
            unload_col = (unload_col - {POSE_FIELD}) or None
        return load_col, unload_col

    def _load_data(self, token, dataset_path):
        super()._load_data(token, dataset_path)
        mode = pose_normalisation(self.config)
        if mode != "none" and self.user_feat is not None:
            self._normalise_poses(os.path.join(dataset_path, f"{token}.{FeatureSource.USER.value}"), mode)

    def _pose_requested(self) -> bool:
        """Whether the configuration's load columns read ``pose`` (not only this mixin)."""
        load_col, unload_col = super()._get_load_and_unload_col(FeatureSource.USER)
        return (load_col is None or POSE_FIELD in load_col) and not (unload_col and POSE_FIELD in unload_col)

    def _normalise_poses(self, user_file: str, mode: str) -> None:
        feat = self.user_feat
        if POSE_FIELD not in feat:
            if POSE_PCA_FIELD in feat:
                raise DataError(user_file, f"{NORMALISATION_SETTING} {mode} recomputes {POSE_PCA_FIELD} from the "
                                           f"{POSE_FIELD} column, which the file lacks", field=POSE_FIELD)
            return
        normalised = normalise_windows(self._pose_windows(user_file), mode).reshape(len(feat), -1)
        if POSE_PCA_FIELD in feat:
            pose_pca = self._fitted_pose_pca(normalised, user_file)
            feat[POSE_PCA_FIELD] = list(pose_pca)
            self.field2seqlen[POSE_PCA_FIELD] = pose_pca.shape[1]
        if self._pose_requested():
            feat[POSE_FIELD] = list(normalised)
        else:
            del feat[POSE_FIELD]
            for properties in (self.field2type, self.field2source, self.field2seqlen, self.field2bucketnum):
                properties.pop(POSE_FIELD, None)

    def _pose_windows(self, user_file: str) -> np.ndarray:
        """The ``pose`` column as a float64 (N, T, 33, 4) array; a row of another length is a DataError."""
        column = self.user_feat[POSE_FIELD].to_numpy()
        lengths = np.fromiter(map(len, column), dtype=np.int64, count=len(column))
        frame = NUM_LANDMARKS * NUM_CHANNELS
        wrong = np.flatnonzero((lengths != lengths[0]) | (lengths % frame != 0) | (lengths == 0))
        if len(wrong):
            raise DataError(user_file, f"{POSE_FIELD} has {lengths[wrong[0]]} values, not the first row's T x "
                                       f"{NUM_LANDMARKS} x {NUM_CHANNELS} = {lengths[0]} ({NORMALISATION_SETTING} "
                                       f"reads whole windows)", row=int(wrong[0]) + 1, field=POSE_FIELD)
        return np.stack(column).astype(np.float64, copy=False).reshape(len(column), -1, NUM_LANDMARKS, NUM_CHANNELS)

    def _fitted_pose_pca(self, normalised: np.ndarray, user_file: str) -> np.ndarray:
        """The converter's ``pose_pca`` of ``normalised`` (N, 1320), fitted on the first benchmark file's windows."""
        if self.benchmark_filename_list is None:
            raise DataError(user_file, f"{NORMALISATION_SETTING} recomputes {POSE_PCA_FIELD} fitted on the train "
                                       "split's windows: it needs benchmark_filename (its first file is the train "
                                       "split)", field=POSE_PCA_FIELD)
        train_windows = self.inter_feat[self.uid_field].iloc[: self.file_size_list[0]].unique()
        fit = np.flatnonzero(self.user_feat[self.uid_field].isin(train_windows).to_numpy())
        if len(fit) < 2:
            raise DataError(user_file, f"{NORMALISATION_SETTING} refits {POSE_PCA_FIELD} on the windows of the first "
                                       f"benchmark file, and {len(fit)} of them are in the file", field=POSE_PCA_FIELD)
        dim = len(self.user_feat[POSE_PCA_FIELD].iat[0])
        pose_pca, _ = standardized_pca(normalised, dim, fit_index=fit)
        return pose_pca.astype(np.float64)


def _stored_class(base: type) -> type:
    """``Stored<base>``: ``base`` with :class:`BenchmarkFilteringMixin`, :class:`PoseNormalisationMixin` and
    :class:`PoseStoreMixin`, defined in this module (so pickle finds it)."""
    name = f"Stored{base.__name__}"
    cls = type(name, (BenchmarkFilteringMixin, PoseNormalisationMixin, PoseStoreMixin, base),
               {"__module__": __name__, "__qualname__": name,
                "__doc__": f"RecBole's ``{base.__name__}`` reading the pose store, its benchmark files filtered."})
    globals()[name] = cls
    return cls


# one for each dataset class RecBole's create_dataset may pick
STORED_CLASSES = {name: _stored_class(base) for name, base in vars(recbole_datasets).items()
                  if inspect.isclass(base) and issubclass(base, recbole_datasets.Dataset)}


def dataset_class(config) -> type:
    """The class RecBole's ``create_dataset`` picks (``<model>Dataset`` if RecBole has one, else by model
    type), with :class:`PoseStoreMixin`."""
    module = importlib.import_module("recbole.data.dataset")
    name = config["model"] + "Dataset"
    if not hasattr(module, name):
        name = MODEL_TYPE_DATASETS[config["MODEL_TYPE"]]
    return STORED_CLASSES[name]


def _setting_error(config, key: str, message: str) -> DataError:
    """The plug-in ``Config``'s error for setting ``key`` (any other config: the settings source)."""
    if hasattr(config, "setting_error"):
        return config.setting_error(key, message)
    from recbole_poserec.config import SETTINGS_SOURCE

    return DataError(SETTINGS_SOURCE, message, field=key)


def pose_normalisation(config) -> str:
    """The configuration's ``pose_normalisation`` (unset: ``none``); another value is a one-line DataError."""
    value = config[NORMALISATION_SETTING]
    if value is None:
        return "none"
    try:
        return check_pose_normalisation(value)
    except ValueError as err:
        raise _setting_error(config, NORMALISATION_SETTING, f"{NORMALISATION_SETTING} {err}") from None


def _learns_known_negatives(model_name) -> bool:
    """The model class's ``learns_known_negatives`` attribute (False when there is none, or no such model)."""
    from recbole_poserec.utils import get_model

    try:
        return getattr(get_model(model_name), "learns_known_negatives", False) is True
    except ValueError:
        return False


def check_nonpositive_setting(config) -> None:
    """``train_nonpositive_as_negatives`` is False, or True where the train split's label-0 rows are learnt as
    negatives: a model class with ``learns_known_negatives = True`` (it reads the label-0 rows itself), or a
    pointwise context-aware model trained on ``LABEL_FIELD`` without sampled negatives (RecBole's pointwise
    sampling sets label 1 on every row of the split, and the other models read every train row as a positive).
    One-line :class:`DataError` otherwise."""
    value = config[NONPOSITIVE_SETTING]
    if value is None or value is False:
        return
    if value is not True:
        raise _setting_error(config, NONPOSITIVE_SETTING, f"must be True or False, got {value!r}")
    if config["benchmark_filename"] is None:
        raise _setting_error(config, NONPOSITIVE_SETTING, "True needs benchmark_filename (the known negatives are "
                                                          "the first file's rows outside val_interval)")
    if _learns_known_negatives(config["model"]):
        return
    sampling = config["train_neg_sample_args"] or {}
    sampled = sampling.get("distribution", "none") != "none" and sampling.get("sample_num", "none") != "none"
    if config["MODEL_TYPE"] != ModelType.CONTEXT or config["MODEL_INPUT_TYPE"] != InputType.POINTWISE or sampled:
        raise _setting_error(config, NONPOSITIVE_SETTING,
                             f"True is supported for pointwise context-aware models trained without sampled "
                             f"negatives (train_neg_sample_args: ~), not {config['model']}"
                             f"{' with sampled negatives' if sampled else ''}: it would train on the non-positive "
                             f"rows as positives (docs/evaluation.md)")


def create_dataset(config):
    """The dataset for ``config`` (RecBole's class choice), its feature files read through the pose store,
    its benchmark files filtered (:class:`BenchmarkFilteringMixin`).

    Unlike :func:`recbole.data.create_dataset` it never loads a pickled dataset (``dataset_save_path``,
    ``<checkpoint_dir>/<dataset>-<class>.pth``) and never saves one.
    """
    check_nonpositive_setting(config)
    pose_normalisation(config)
    return dataset_class(config)(config)
