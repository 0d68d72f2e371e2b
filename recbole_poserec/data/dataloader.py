"""Data preparation: RecBole's, plus the video-aware sampler and window-grouped training batches."""

from __future__ import annotations

from logging import getLogger

import numpy as np
from recbole.data.dataloader import TrainDataLoader
from recbole.data.dataloader.general_dataloader import NegSampleDataLoader
from recbole.data.interaction import Interaction
from recbole.data.utils import create_samplers, get_dataloader
from recbole.utils import InputType

from dataset_conversion.layout import VIDEO_FIELD
from recbole_poserec.data.sampler import VideoAwareSampler


class WindowBatchTrainDataLoader(TrainDataLoader):
    """Training batches made of whole windows: ``train_windows_per_batch`` windows with all their
    interactions (and sampled negatives), as the paper trains ("we sample a batch of videos and
    their corresponding labeled items"). Each window's pose is thus encoded once per batch, and the
    in-batch hard-negative mining sees every positive of every window in the batch.

    ``train_batch_features: False`` gives batches of the interaction fields and the sampled negative ids
    only: no user or item feature is gathered per row, for a model that looks its windows' and items'
    features up itself (PoseRec keeps the pose of every window in one tensor on its device).
    """

    def __init__(self, config, dataset, sampler, shuffle=False):
        self.logger = getLogger()
        self._join_features = config["train_batch_features"] is not False
        self._set_neg_sample_args(config, dataset, config["MODEL_INPUT_TYPE"], config["train_neg_sample_args"])
        windows = dataset.inter_feat[dataset.uid_field].numpy()
        self._rows_by_window = np.argsort(windows, kind="stable")
        counts = np.bincount(windows, minlength=dataset.user_num)
        self._window_ids = np.flatnonzero(counts)
        self._window_counts = counts[self._window_ids]
        self._window_offsets = np.concatenate([[0], np.cumsum(self._window_counts)[:-1]])
        self.sample_size = len(self._window_ids)
        NegSampleDataLoader.__init__(self, config, dataset, sampler, shuffle=shuffle)

    def _init_batch_size_and_step(self):
        windows_per_batch = self.config["train_windows_per_batch"] or 64
        self.step = windows_per_batch
        self.set_batch_size(windows_per_batch)

    def rows_of_windows(self, window_positions: np.ndarray) -> np.ndarray:
        """Interaction rows of the windows at ``window_positions`` (vectorised range concatenation)."""
        counts = self._window_counts[window_positions]
        starts = self._window_offsets[window_positions]
        total = int(counts.sum())
        run_starts = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        return self._rows_by_window[run_starts + np.arange(total)]

    def collate_fn(self, index):
        rows = self.rows_of_windows(np.asarray(index))
        data = self._dataset.__getitem__(rows, join=self._join_features)
        return self._neg_sampling(self.transform(self._dataset, data))

    def _neg_sample_by_pair_wise_sampling(self, inter_feat, neg_item_ids):
        if self._join_features:
            return super()._neg_sample_by_pair_wise_sampling(inter_feat, neg_item_ids)
        inter_feat = inter_feat.repeat(self.times)
        inter_feat.update(Interaction({self.neg_item_id: neg_item_ids}))
        return inter_feat


def _train_sampler(config, dataset, built_datasets, default_sampler):
    args = config["train_neg_sample_args"]
    if args.get("sampler", "default") != "video":
        return default_sampler
    if config["repeatable"]:
        raise ValueError("train_neg_sample_args.sampler 'video' needs repeatable: False")
    sampler = VideoAwareSampler(
        ["train", "valid", "test"], built_datasets, config["VIDEO_FIELD"] or VIDEO_FIELD, args["distribution"], args["alpha"]
    )
    return sampler.set_phase("train")


def data_preparation(config, dataset):
    """Split ``dataset`` as configured and build the train/valid/test dataloaders.

    As ``recbole.data.data_preparation``, except that ``train_neg_sample_args.sampler: video``
    selects :class:`VideoAwareSampler` for training, and ``train_batching: window`` selects
    :class:`WindowBatchTrainDataLoader`.
    """
    built_datasets = dataset.build()
    train_dataset, valid_dataset, test_dataset = built_datasets
    train_sampler, valid_sampler, test_sampler = create_samplers(config, dataset, built_datasets)
    train_sampler = _train_sampler(config, dataset, built_datasets, train_sampler)

    if config["train_batching"] == "window":
        if config["MODEL_INPUT_TYPE"] == InputType.LISTWISE:
            raise ValueError("train_batching: window supports pointwise and pairwise models")
        if config["train_batch_features"] is False and config["MODEL_INPUT_TYPE"] != InputType.PAIRWISE:
            raise ValueError("train_batch_features: False supports pairwise models")
        train_loader_class = WindowBatchTrainDataLoader
    else:
        train_loader_class = get_dataloader(config, "train")
    train_data = train_loader_class(config, train_dataset, train_sampler, shuffle=config["shuffle"])
    valid_data = get_dataloader(config, "valid")(config, valid_dataset, valid_sampler, shuffle=False)
    test_data = get_dataloader(config, "test")(config, test_dataset, test_sampler, shuffle=False)
    return train_data, valid_data, test_data
