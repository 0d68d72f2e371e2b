"""Data preparation: RecBole's, plus the video-aware sampler, window-grouped training batches and, under
RecBole's DDP (``single_spec`` False), an exact split of every batch across the ranks."""

from __future__ import annotations

from logging import getLogger

import numpy as np
import torch
from recbole.data.dataloader import TrainDataLoader
from recbole.data.dataloader.general_dataloader import NegSampleDataLoader
from recbole.data.interaction import Interaction
from recbole.data.utils import create_samplers, get_dataloader
from recbole.utils import InputType, ModelType

from dataset_conversion.layout import VIDEO_FIELD
from recbole_poserec.data.sampler import VideoAwareSampler


def global_batch_bounds(n: int, batch_size: int, world_size: int) -> np.ndarray:
    """Bounds (``n_batches + 1``) of the global batches of ``n`` indices: ``batch_size`` each, the last one
    shorter, merged into the one before when it has fewer than ``world_size`` indices (so that, for
    ``n >= world_size``, every rank gets at least one index of every batch)."""
    bounds = np.append(np.arange(0, n, max(batch_size, world_size)), n)
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < world_size:
        bounds = np.delete(bounds, -2)
    return bounds


class GlobalBatchShardSampler(torch.utils.data.Sampler):
    """One rank's share of each global batch: what replaces RecBole's ``DistributedSampler`` under DDP.

    Every epoch the ``n`` indices are ordered as RecBole's single-process loader orders them (a
    ``RandomSampler`` on the loader's generator, which RecBole seeds with ``seed`` on every rank, so all
    ranks draw the same order in lockstep, one order per epoch; else ``0 .. n-1``), cut into the global
    batches of :func:`global_batch_bounds`, and rank ``r`` yields part ``r`` of ``np.array_split(batch,
    world_size)`` of each. So the ranks' parts of a batch are disjoint and together the whole batch: every
    index is seen exactly once per epoch across the ranks, with no padding (``DistributedSampler`` repeats
    indices to even the ranks out), and each rank takes the same number of steps (DDP all-reduces every
    step). The union of the parts of batch ``b`` is the single-process loader's batch ``b``.

    An empty part (only when ``n < world_size``) is skipped; :class:`ShardedIndexLoader` refuses that for
    training. ``set_epoch`` (RecBole's trainer calls it) only records the epoch: the order comes from the
    shared generator.
    """

    def __init__(self, n: int, batch_size: int, rank: int, world_size: int, shuffle: bool,
                 generator: torch.Generator | None = None):
        super().__init__()
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside the world of {world_size} processes")
        self.n, self.rank, self.world_size = n, rank, world_size
        self.shuffle, self.generator, self.epoch = shuffle, generator, 0
        self.bounds = global_batch_bounds(n, batch_size, world_size)
        sizes = np.diff(self.bounds)
        self.part_sizes = sizes // world_size + (rank < sizes % world_size)  # np.array_split's sizes

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> np.ndarray:
        """This epoch's order of the ``n`` indices (draws from the generator when shuffling)."""
        if not self.shuffle:
            return np.arange(self.n)
        # to its end, as the single-process loader's BatchSampler does (RandomSampler draws again at its end)
        return np.fromiter(torch.utils.data.RandomSampler(range(self.n), generator=self.generator), np.int64)

    def __iter__(self):
        order = self.order()
        for start, stop in zip(self.bounds[:-1], self.bounds[1:]):
            part = np.array_split(order[start:stop], self.world_size)[self.rank]
            if len(part):
                yield part

    def __len__(self) -> int:
        return int(np.count_nonzero(self.part_sizes))


class ShardedIndexLoader(torch.utils.data.DataLoader):
    """torch's ``DataLoader`` as RecBole's ``AbstractDataLoader`` builds it, except that under DDP
    (``single_spec`` False) the indices come from :class:`GlobalBatchShardSampler` instead of RecBole's
    padding ``DistributedSampler``: each step of each rank is its part of one global batch of the loader's
    own ``step`` (not ``step // world_size``).

    Put after a RecBole loader class (``class L(RecBoleLoader, ShardedIndexLoader)``, or :func:`sharded`):
    ``AbstractDataLoader.__init__`` then hands its ``DataLoader`` arguments here. In a single process the
    arguments pass through unchanged. A training loader of a traditional model (Pop, Random, PoseKNN:
    nothing learned by gradients, so nothing for DDP to average) gives every rank the whole split.
    """

    def __init__(self, dataset, batch_size, collate_fn, num_workers, shuffle, sampler, generator):
        if self.config["single_spec"]:
            super().__init__(dataset=dataset, batch_size=batch_size, collate_fn=collate_fn, num_workers=num_workers,
                             shuffle=shuffle, sampler=sampler, generator=generator)
            return
        training = isinstance(self, TrainDataLoader)
        if training and self.config["MODEL_TYPE"] == ModelType.TRADITIONAL:
            rank, world_size = 0, 1
        else:
            rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        self._init_batch_size_and_step()  # the global step (AbstractDataLoader divided it by world_size)
        if training and self.sample_size < world_size:
            raise ValueError(f"the training split has {self.sample_size} batching units, fewer than the "
                             f"{world_size} processes of world_size")
        index_sampler = GlobalBatchShardSampler(self.sample_size, self.step, rank, world_size, self.shuffle, generator)
        self.step = int(index_sampler.part_sizes.max(initial=1))
        super().__init__(dataset=np.arange(self.sample_size), batch_size=None, collate_fn=collate_fn,
                         num_workers=num_workers, sampler=index_sampler, generator=generator)

    def unit_positions(self) -> np.ndarray:
        """The units this rank's batches hold, in its iteration order (an evaluation loader's rows of
        RecBole's collected ``rec.topk``): here the sampled indices (RecBole's eval loaders: users)."""
        parts = list(self.sampler) if not self.config["single_spec"] else [np.arange(self.sample_size)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def sharded(loader_class: type) -> type:
    """``loader_class`` (a RecBole loader) splitting its batches across ranks (:class:`ShardedIndexLoader`)."""
    if issubclass(loader_class, ShardedIndexLoader):
        return loader_class
    return type(f"Sharded{loader_class.__name__}", (loader_class, ShardedIndexLoader), {})


class WindowBatchTrainDataLoader(TrainDataLoader, ShardedIndexLoader):
    """Training batches made of whole windows: ``train_windows_per_batch`` windows with all their
    interactions (and sampled negatives), as the paper trains ("we sample a batch of videos and
    their corresponding labeled items"). Each window's pose is thus encoded once per batch, and the
    in-batch hard-negative mining sees every positive of every window in the batch.

    ``train_batch_features: False`` gives batches of the interaction fields and the sampled negative ids
    only: no user or item feature is gathered per row, for a model that looks its windows' and items'
    features up itself (PoseRec keeps the pose of every window in one tensor on its device).

    Under DDP each rank's batch is its part of the single-process batch of windows
    (:class:`ShardedIndexLoader`): every training window once per pass across the ranks.

    ``train_batches_per_epoch`` N (0, the default: an epoch is one pass over the windows) makes each epoch N
    batches of the current pass, which the next epoch continues (a new shuffled pass starts where one runs
    out), as Keras' ``steps_per_epoch``: RecBole's trainer then validates, early-stops and checkpoints every N
    batches (with ``eval_step: 1``) instead of once a pass.
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
        self.batches_per_epoch = read_batches_per_epoch(config)
        self._pass = None  # the pass the next epoch continues (train_batches_per_epoch > 0)
        NegSampleDataLoader.__init__(self, config, dataset, sampler, shuffle=shuffle)

    def __iter__(self):
        return super().__iter__() if not self.batches_per_epoch else self._epoch_of_passes()

    def _epoch_of_passes(self):
        for _ in range(self.batches_per_epoch):
            batch = None if self._pass is None else next(self._pass, None)
            if batch is None:
                self._pass = super().__iter__()
                batch = next(self._pass)
            yield batch

    def __len__(self) -> int:
        return self.batches_per_epoch or super().__len__()

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


def read_batches_per_epoch(config) -> int:
    """``train_batches_per_epoch`` (unset: 0, a full pass an epoch), checked: ``ValueError`` unless an integer >= 0."""
    value = config["train_batches_per_epoch"]
    if value is None:
        return 0
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise ValueError(f"train_batches_per_epoch must be a non-negative integer, got {value!r}")
    return value


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
    selects :class:`VideoAwareSampler` for training, ``train_batching: window`` selects
    :class:`WindowBatchTrainDataLoader` (the only loader that allows ``train_batches_per_epoch``), and under
    DDP every loader splits its batches across the ranks without padding (:func:`sharded`).
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
        if read_batches_per_epoch(config):
            raise ValueError("train_batches_per_epoch needs train_batching: window (RecBole's own training "
                             "loaders always make an epoch one pass)")
        train_loader_class = get_dataloader(config, "train")
    valid_loader_class, test_loader_class = get_dataloader(config, "valid"), get_dataloader(config, "test")
    if not config["single_spec"]:
        train_loader_class, valid_loader_class, test_loader_class = map(
            sharded, (train_loader_class, valid_loader_class, test_loader_class))
    train_data = train_loader_class(config, train_dataset, train_sampler, shuffle=config["shuffle"])
    valid_data = valid_loader_class(config, valid_dataset, valid_sampler, shuffle=False)
    test_data = test_loader_class(config, test_dataset, test_sampler, shuffle=False)
    return train_data, valid_data, test_data
