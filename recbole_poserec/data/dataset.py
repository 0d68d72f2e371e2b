"""RecBole's dataset classes, loading the feature files through the binary store of
:mod:`recbole_poserec.data.pose_store`, and the plug-in's ``create_dataset``.

With ``pose_store: True`` (``properties/overall.yaml``) a ``.user`` or ``.item`` file with a ``float_seq``
column is read from its store when that is fresh, else parsed by RecBole and the store (re)written. The
dataset is the same either way: the store holds exactly the columns RecBole's parse returned.
"""

from __future__ import annotations

import importlib
import inspect

from recbole.data import dataset as recbole_datasets
from recbole.utils import FeatureSource, FeatureType, ModelType

from recbole_poserec.data.pose_store import STORED_SUFFIXES, FeatureStore, header_fields

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


def _stored_class(base: type) -> type:
    """``Stored<base>``: ``base`` with :class:`PoseStoreMixin`, defined in this module (so pickle finds it)."""
    name = f"Stored{base.__name__}"
    cls = type(name, (PoseStoreMixin, base), {"__module__": __name__, "__qualname__": name,
                                               "__doc__": f"RecBole's ``{base.__name__}`` reading the pose store."})
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


def create_dataset(config):
    """The dataset for ``config`` (RecBole's class choice), its feature files read through the pose store.

    Unlike :func:`recbole.data.create_dataset` it never loads a pickled dataset (``dataset_save_path``,
    ``<checkpoint_dir>/<dataset>-<class>.pth``) and never saves one.
    """
    return dataset_class(config)(config)
