"""PoseRec as a RecBole model.

Reference: Zhaoxin Fan, Fengxin Li, Hongyan Liu, Jun He, Xiaoyong Du. "Human Pose Driven Object
Effects Recommendation" (arXiv:2209.08353), Method, Eqs. 1-11.

- users are pose windows (the ``pose`` user feature, (T, 33, 4) flattened), items carry F factor
  text embeddings (``f_*`` item features);
- video side: ST-GCN on the BlazePose graph (Eqs. 1-2, :mod:`recbole_poserec.model.stgcn`);
- item side: learned factor weights, projection, K implicit prototypes (Eqs. 3, 4, 6,
  :mod:`recbole_poserec.model.item_side`);
- score: y = sum_k omega_ik cos(e_i^(k), e_v^(k)) (Eq. 7, :mod:`recbole_poserec.model.scoring`);
- loss: L = L_triple + L_pro + L_label (Eqs. 8-11, :mod:`recbole_poserec.model.losses`), each weighted,
  with pose-aware transductive hard-negative mining for L_triple (:mod:`recbole_poserec.model.mining`).

Training batches hold whole windows (``train_batching: window``) and one sampled negative per
positive from the video-aware sampler (``train_neg_sample_args.sampler: video``) for L_label.
The poses and videos of all windows are kept as tensors on the model's device (not saved in
checkpoints), so a batch's poses are one indexing by window id; batches therefore carry no
gathered features (``train_batch_features: False``).
"""

from __future__ import annotations

import torch
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.utils import InputType

from dataset_conversion.layout import ITEM_NAME_FIELD, NUM_CHANNELS, NUM_LANDMARKS

from recbole_poserec.model.losses import label_loss, prototype_loss, triplet_loss
from recbole_poserec.model.mining import donor_windows, negative_candidates, select_negative_scores
from recbole_poserec.model.network import PoseRecNetwork
from recbole_poserec.model.scoring import chunk_normalize, item_score_matrix, pair_scores, score_all_items


class PoseRec(GeneralRecommender):
    """Human-pose-driven object effects recommendation (see module docstring)."""

    input_type = InputType.PAIRWISE

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.POSE = config["POSE_FIELD"]
        self.VIDEO = config["VIDEO_FIELD"]
        self.factor_fields = list(config["item_factor_fields"])
        self.triplet_weight = config["triplet_weight"]
        self.prototype_weight = config["prototype_weight"]
        self.label_weight = config["label_weight"]
        self.margin = config["triplet_margin"]
        self.mining = config["mining"]
        self.mining_threshold = config["mining_threshold"]
        self.mining_fraction = config["mining_fraction"]
        self.mining_candidates = config["mining_candidates"] or 0

        self.network = PoseRecNetwork.from_hyper_parameters(self._item_factor_tensor(dataset), config)
        user_feat = dataset.get_user_feature()
        # (n_windows, T, V, C) and (n_windows,), by internal window id; rebuilt from the dataset, never saved.
        self.register_buffer("window_poses", self._window_pose_table(user_feat), persistent=False)
        if self.VIDEO not in user_feat:
            raise ValueError(f"the user field '{self.VIDEO}' (VIDEO_FIELD) is not loaded (load_col)")
        self.register_buffer("window_videos", user_feat[self.VIDEO].clone(), persistent=False)
        self._item_tokens = [str(token) for token in dataset.field2id_token[self.ITEM_ID]]
        self._item_names = self._item_name_list(dataset, config["ITEM_NAME_FIELD"] or ITEM_NAME_FIELD)
        self._cached_item_matrix = None

    def _item_factor_tensor(self, dataset) -> torch.Tensor:
        item_feat = dataset.get_item_feature()
        missing = [field for field in self.factor_fields if field not in item_feat]
        if missing:
            raise ValueError(f"item factor fields {missing} are not loaded in dataset '{dataset.dataset_name}'")
        return torch.stack([item_feat[field].float() for field in self.factor_fields], dim=1)

    def _window_pose_table(self, user_feat) -> torch.Tensor:
        if self.POSE not in user_feat:
            raise ValueError(f"the user field '{self.POSE}' (POSE_FIELD) is not loaded (load_col)")
        poses = user_feat[self.POSE].float()
        if poses.shape[1] % (NUM_LANDMARKS * NUM_CHANNELS):
            raise ValueError(f"the user field '{self.POSE}' holds {poses.shape[1]} values a window, not T x "
                             f"{NUM_LANDMARKS} x {NUM_CHANNELS}")
        return poses.reshape(poses.shape[0], -1, NUM_LANDMARKS, NUM_CHANNELS).contiguous()

    def _item_name_list(self, dataset, name_field: str) -> list[str]:
        item_feat = dataset.get_item_feature()
        if name_field not in item_feat:
            return list(self._item_tokens)
        tokens = dataset.field2id_token[name_field]
        return [str(tokens[i]) for i in item_feat[name_field].tolist()]

    def catalogue(self) -> dict:
        """Item tokens and names by internal item index, saved in checkpoints for recommending."""
        return {"item_tokens": list(self._item_tokens), "item_names": list(self._item_names)}

    def train(self, mode: bool = True):
        self._cached_item_matrix = None  # item vectors change with training; recompute per evaluation pass
        return super().train(mode)

    # ----- encoding -------------------------------------------------------------------------------
    def _encode_unique_windows(self, interaction):
        """Encode each distinct window of a batch once. Returns (e_v of uniques, unique window ids, each
        row's index into the uniques)."""
        windows, inverse = torch.unique(interaction[self.USER_ID], return_inverse=True)
        return self.network.video_embeddings(self.window_poses[windows]), windows, inverse

    def _item_matrix(self) -> torch.Tensor:
        if self.training:
            return self.network.item_matrix()
        if self._cached_item_matrix is None:
            self._cached_item_matrix = self.network.item_matrix()
        return self._cached_item_matrix

    # ----- RecBole interface ---------------------------------------------------------------------
    def calculate_loss(self, interaction):
        """(L_triple, L_pro, L_label), each weighted (Eq. 8); RecBole's trainer sums the tuple."""
        K = self.network.num_prototypes
        embeddings, windows, inverse = self._encode_unique_windows(interaction)
        video_chunks = chunk_normalize(embeddings, K)
        item_chunks, omega = self.network.item_representations()

        positives = interaction[self.ITEM_ID]
        negatives = interaction[self.NEG_ITEM_ID]
        window_chunks = video_chunks[inverse]
        positive_scores = pair_scores(window_chunks, item_chunks[positives], omega[positives])
        negative_scores = pair_scores(window_chunks, item_chunks[negatives], omega[negatives])
        loss_label = label_loss(positive_scores, negative_scores)

        loss_prototype = prototype_loss(self.network.item_side.prototypes)

        all_scores = score_all_items(video_chunks, item_score_matrix(item_chunks, omega))
        positive_mask = torch.zeros_like(all_scores, dtype=torch.bool)
        positive_mask[inverse, positives] = True
        window_videos = self.window_videos[windows]
        donors = donor_windows(window_videos, embeddings, self.mining, self.mining_threshold, self.mining_fraction)
        candidates = negative_candidates(window_videos, positive_mask, donors)
        mined, has_negative = select_negative_scores(all_scores, candidates, self.mining, self.mining_candidates)
        loss_triplet = triplet_loss(all_scores, positive_mask, mined, has_negative, self.margin)

        return (
            self.triplet_weight * loss_triplet,
            self.prototype_weight * loss_prototype,
            self.label_weight * loss_label,
        )

    def predict(self, interaction):
        """Eq. 7 for the (window, item) pairs of ``interaction``."""
        embeddings, _, inverse = self._encode_unique_windows(interaction)
        video_chunks = chunk_normalize(embeddings, self.network.num_prototypes)[inverse]
        item_chunks, omega = self.network.item_representations()
        items = interaction[self.ITEM_ID]
        return pair_scores(video_chunks, item_chunks[items], omega[items])

    def full_sort_predict(self, interaction):
        """Eq. 7 for each window against every item: one matrix product with M (computed once per pass)."""
        poses = self.window_poses[interaction[self.USER_ID]]
        return self.network.score_windows(poses, self._item_matrix()).reshape(-1)
