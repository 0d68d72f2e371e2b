"""Negative sampling that respects videos: a window's negatives are never items annotated for its video.

RecBole's ``Sampler`` excludes the items a *user* interacted with. Here a user is one pose window,
and every window of a video carries that video's annotated items; keying the exclusion on the
video makes the rule explicit and keeps it true for any input (e.g. a window-level split).
Chosen with ``train_neg_sample_args: {sampler: video, ...}`` in a model's YAML.
"""

from __future__ import annotations

import numpy as np
from recbole.sampler import Sampler


class VideoAwareSampler(Sampler):
    """RecBole ``Sampler`` whose excluded ("used") items of a window are all items of the window's video,
    over all phases (a video is in one split only, so this hides nothing from evaluation)."""

    def __init__(self, phases, datasets, video_field: str, distribution="uniform", alpha=1.0):
        self.video_field = video_field
        super().__init__(phases, datasets, distribution, alpha)

    def _window_videos(self) -> np.ndarray:
        user_feat = self.datasets[0].user_feat
        if user_feat is None or self.video_field not in user_feat:
            raise ValueError(f"the video-aware sampler needs the user field '{self.video_field}' (load_col)")
        return user_feat[self.video_field].numpy()

    def get_used_ids(self):
        window_video = self._window_videos()
        windows = np.concatenate([d.inter_feat[self.uid_field].numpy() for d in self.datasets])
        items = np.concatenate([d.inter_feat[self.iid_field].numpy() for d in self.datasets])
        videos = window_video[windows]
        items_of_video = {}
        for video, item in zip(videos.tolist(), items.tolist()):
            items_of_video.setdefault(video, set()).add(item)
        used = np.empty(self.user_num, dtype=object)
        for user, video in enumerate(window_video.tolist()):
            used[user] = items_of_video.setdefault(video, set())
        if any(len(s) + 1 >= self.item_num for s in items_of_video.values()):
            raise ValueError("a video is annotated with every item: no negative can be sampled for it")
        return {phase: used for phase in self.phases}
