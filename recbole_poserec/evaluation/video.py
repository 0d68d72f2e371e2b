"""Video-level full ranking: batches of whole videos (all their windows), their positives and their history.

A video, not a 10-frame window, is what gets effects. Its score of an item aggregates its windows' full-sort
scores (:func:`~recbole_poserec.evaluation.aggregation.aggregate_window_scores`, ``video_aggregation``), its
ground truth is the union of its windows' positive items in the split, and its history (masked out of the
ranking, as RecBole's full sort masks a user's) is what RecBole's sampler knows of all its windows, in every
split (``sampler.used_ids``), less its positives. With the converter's split by video a test video has no
window in the other splits; with ``--split-protocol window`` it has, but every window carries the video's
items, so its history is empty unless the splits give its windows different items.
"""

from __future__ import annotations

import itertools
from logging import getLogger

import numpy as np
import torch
from recbole.data.dataloader.abstract_dataloader import AbstractDataLoader
from recbole.data.interaction import Interaction

from recbole_poserec.data.dataloader import ShardedIndexLoader
from recbole_poserec.evaluation.aggregation import aggregate_window_scores
from recbole_poserec.evaluation.settings import video_field


def _offsets(sorted_keys: np.ndarray, n_groups: int) -> np.ndarray:
    """CSR offsets (n_groups + 1) of the runs of ``0 .. n_groups - 1`` in ``sorted_keys``."""
    return np.searchsorted(sorted_keys, np.arange(n_groups + 1))


def video_full_sort_scores(window_scores: torch.Tensor, window_video: torch.Tensor, history, how: str) -> torch.Tensor:
    """The videos' full-sort scores (n_videos, n_items) from their windows' (n_windows, n_items): aggregated
    (:func:`aggregate_window_scores`), then -inf for the [PAD] item 0 and each video's ``history`` pairs
    ``(video, item)``, as RecBole masks a user's full-sort scores."""
    scores = aggregate_window_scores(window_scores, window_video, int(window_video.max()) + 1, how)
    scores[:, 0] = -torch.inf
    scores[history] = -torch.inf
    return scores


class VideoFullSortEvalDataLoader(AbstractDataLoader, ShardedIndexLoader):
    """Full-ranking evaluation by video, over one split (a RecBole dataset of the split and its sampler).

    Each batch is ``(windows, window_video, (history_u, history_i), positive_u, positive_i)``:

    * ``windows``: the :class:`~recbole.data.interaction.Interaction` of the batch's windows with their user
      features, as RecBole's :class:`~recbole.data.dataloader.FullSortEvalDataLoader` gives a model's
      ``full_sort_predict``; the windows of a video are consecutive;
    * ``window_video``: (n_windows,) int64, the batch-local video (0, 1, ...) of each window;
    * ``history_u, history_i`` / ``positive_u, positive_i``: (batch-local video, item) pairs of the history
      and of the positives, as RecBole's loader gives them per user.

    A batch holds whole videos and at most ``eval_batch_size // item_num`` windows (RecBole's window count
    of a full-sort batch), unless one video alone has more. Videos are ordered by internal video id, their
    windows by internal window id; :attr:`video_tokens` names them in that order. Under DDP each rank takes
    its share of the packed batches (:class:`~recbole_poserec.data.dataloader.ShardedIndexLoader`).
    """

    def __init__(self, config, dataset, sampler, shuffle=False):
        self.logger = getLogger()
        self.uid_field, self.iid_field = dataset.uid_field, dataset.iid_field
        self.video_field = video_field(config)
        if dataset.user_feat is None or self.video_field not in dataset.user_feat:
            raise ValueError(f"the video-level evaluation needs the user field '{self.video_field}' (VIDEO_FIELD), "
                             "which the dataset's user file does not provide")
        n_items = dataset.item_num
        video_of_user = dataset.user_feat[self.video_field].numpy().astype(np.int64)
        users = dataset.inter_feat[self.uid_field].numpy().astype(np.int64)
        items = dataset.inter_feat[self.iid_field].numpy().astype(np.int64)

        windows = np.unique(users)
        order = np.lexsort((windows, video_of_user[windows]))
        self.window_uids = windows[order]
        self.video_ids, window_video = np.unique(video_of_user[self.window_uids], return_inverse=True)
        n_videos = len(self.video_ids)
        self.window_video = window_video.astype(np.int64)  # position of each window's video
        self.window_offsets = _offsets(self.window_video, n_videos)
        self.video_tokens = [str(t) for t in dataset.id2token(self.video_field, self.video_ids)]

        # positives: the split's (video, item) pairs; history: earlier splits' items of the video's windows
        position = np.searchsorted(self.video_ids, video_of_user)  # valid for the windows of these videos
        positives = np.unique(position[users] * n_items + items)
        used = sampler.used_ids  # per window, its items in this split and the earlier ones
        video_windows = np.flatnonzero(np.isin(video_of_user, self.video_ids))  # in any split
        used_counts = np.fromiter((len(used[w]) for w in video_windows), dtype=np.int64, count=len(video_windows))
        used_items = np.fromiter(itertools.chain.from_iterable(used[w] for w in video_windows), dtype=np.int64,
                                 count=int(used_counts.sum()))
        history = np.setdiff1d(np.repeat(position[video_windows], used_counts) * n_items + used_items, positives)
        self.positive_video, self.positive_item = np.divmod(positives, n_items)
        self.history_video, self.history_item = np.divmod(history, n_items)
        self.positive_offsets = _offsets(self.positive_video, n_videos)
        self.history_offsets = _offsets(self.history_video, n_videos)

        self.user_df = dataset.join(Interaction({self.uid_field: torch.from_numpy(self.window_uids)}))
        self.windows_per_batch = max(config["eval_batch_size"] // n_items, 1)
        self.batch_bounds = self._pack(np.diff(self.window_offsets), self.windows_per_batch)
        self.sample_size = len(self.batch_bounds) - 1
        if shuffle:
            self.logger.warning("VideoFullSortEvalDataLoader can't shuffle")
        super().__init__(config, dataset, sampler, shuffle=False)

    @staticmethod
    def _pack(window_counts: np.ndarray, limit: int) -> np.ndarray:
        """Video bounds of batches of consecutive videos with at most ``limit`` windows (a longer video alone)."""
        bounds, total = [0], 0
        for video, count in enumerate(window_counts.tolist()):
            if total and total + count > limit:
                bounds.append(video)
                total = 0
            total += count
        bounds.append(len(window_counts))
        return np.asarray(bounds, dtype=np.int64)

    def unit_positions(self) -> np.ndarray:
        """The videos (positions in :attr:`video_tokens`) of this rank's batches, in its iteration order."""
        batches = super().unit_positions()
        starts, stops = self.batch_bounds[batches], self.batch_bounds[batches + 1]
        counts = stops - starts
        return np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())

    @property
    def n_videos(self) -> int:
        return len(self.video_ids)

    def _init_batch_size_and_step(self):
        self.step = 1  # one packed batch of videos per step (see batch_bounds)
        self.set_batch_size(1)

    def _pairs(self, videos: np.ndarray, items: np.ndarray, offsets: np.ndarray, first: int, last: int):
        start, stop = offsets[first], offsets[last]
        return torch.from_numpy(videos[start:stop] - first), torch.from_numpy(items[start:stop])

    def collate_fn(self, index):
        (batch,) = index
        first, last = int(self.batch_bounds[batch]), int(self.batch_bounds[batch + 1])
        start, stop = self.window_offsets[first], self.window_offsets[last]
        windows = self.user_df[torch.arange(start, stop)]
        window_video = torch.from_numpy(self.window_video[start:stop] - first)
        history = self._pairs(self.history_video, self.history_item, self.history_offsets, first, last)
        positive_u, positive_i = self._pairs(self.positive_video, self.positive_item, self.positive_offsets, first, last)
        return windows, window_video, history, positive_u, positive_i
