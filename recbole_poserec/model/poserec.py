"""PoseRec as a RecBole model.

Reference: Zhaoxin Fan, Fengxin Li, Hongyan Liu, Jun He, Xiaoyong Du. "Human Pose Driven Object
Effects Recommendation" (arXiv:2209.08353), Method, Eqs. 1-11.

- users are pose windows (the ``pose`` user feature, (T, 33, 4) flattened), items carry F factor
  text embeddings (``f_*`` item features);
- video side: ST-GCN on the BlazePose graph (Eqs. 1-2, :mod:`recbole_poserec.model.stgcn`);
- item side: learned factor weights, projection, K implicit prototypes (Eqs. 3, 4, 6,
  :mod:`recbole_poserec.model.item_side`);
- score: y = sum_k omega_ik cos(e_i^(k), e_v^(k)) (Eq. 7, :mod:`recbole_poserec.model.scoring`), plus
  with ``item_bias: text`` (not the paper) a per-item bias read from the item's factor text, with
  ``item_bias: item`` a free one per item;
- loss: L = L_triple + L_pro + L_label (Eqs. 8-11, :mod:`recbole_poserec.model.losses`), each weighted,
  with pose-aware transductive hard-negative mining for L_triple (:mod:`recbole_poserec.model.mining`).

Variants, each one setting of ``properties/model/PoseRec.yaml`` whose default is the paper's behaviour
(all training-only: the network, its checkpoint and the ranking at predict time are the same):

- ``triplet_hinge: False``: the authors' code's triplet term, mean of (y_neg - min_pos y + margin), no hinge;
- ``mining: authors``: the authors' code's mining rule (:mod:`recbole_poserec.model.mining`);
- ``label_loss: softmax``: L_label as a cross-entropy over the whole catalogue instead of Eq. 9's binary one;
- ``score_scale`` / ``learn_score_scale``: L_label reads Eq. 7 scores times a fixed or learned positive scale
  (an inverse temperature); predict and full_sort_predict return the unscaled Eq. 7, whose ranking a
  positive scale would not change anyway;
- ``item_bias_init: popularity`` (with ``item_bias: item``): the free item bias starts at the log of each item's
  training frequency (:func:`popularity_prior`) instead of 0, the prior-probability initialisation of a
  classifier's output bias (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, Sec. 4.1), so training
  starts from the popularity ranking rather than from none;
- ``known_negatives: True``: the train split's annotated non-positive rows (``LABEL_FIELD`` 0, kept by the
  dataset setting ``train_nonpositive_as_negatives: True``) are extra negatives of L_label, never positives;
- ``augment_rotation`` / ``augment_scale`` / ``augment_time_shift``: random augmentation of the training
  batch's poses (:mod:`recbole_poserec.model.augmentation`), never at evaluation.

Training batches hold whole windows (``train_batching: window``) and one sampled negative per
positive from the video-aware sampler (``train_neg_sample_args.sampler: video``) for L_label.
The poses and videos of all windows are kept as tensors on the model's device (not saved in
checkpoints), so a batch's poses are one indexing by window id; batches therefore carry no
gathered features (``train_batch_features: False``).
"""

from __future__ import annotations

import math

import torch
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.utils import InputType

from dataset_conversion.layout import ITEM_NAME_FIELD, NUM_CHANNELS, NUM_LANDMARKS

from recbole_poserec.model.augmentation import AUGMENTATION_KEYS, augment_windows, check_augmentation
from recbole_poserec.model.losses import label_loss, prototype_loss, softmax_label_loss, triplet_loss
from recbole_poserec.model.mining import MINING_STRATEGIES, donor_windows, negative_candidates, select_negative_scores
from recbole_poserec.model.network import PoseRecNetwork
from recbole_poserec.model.scoring import chunk_normalize, item_score_matrix, pair_scores, score_all_items

LABEL_LOSSES = ("bce", "softmax")
PADDING_ITEM = 0  # RecBole's [PAD] item: never annotated, never ranked by evaluation
# The training variants' settings and their defaults (the paper's behaviour).
VARIANT_DEFAULTS = {"triplet_hinge": True, "label_loss": "bce", "score_scale": 1.0, "learn_score_scale": False,
                    "known_negatives": False, "augment_rotation": 0.0, "augment_scale": 0.0,
                    "augment_time_shift": 0, "item_bias_init": "zero"}
ITEM_BIAS_INITS = ("zero", "popularity")


def read_variant_settings(config) -> dict:
    """The settings of :data:`VARIANT_DEFAULTS` from ``config`` (an unset one takes its default), checked:
    ``ValueError`` naming the first that is out of range, or inconsistent with the dataset settings."""
    settings = {key: default if config[key] is None else config[key] for key, default in VARIANT_DEFAULTS.items()}
    for key in ("triplet_hinge", "learn_score_scale", "known_negatives"):
        if not isinstance(settings[key], bool):
            raise ValueError(f"{key} must be True or False, got {settings[key]!r}")
    if settings["label_loss"] not in LABEL_LOSSES:
        raise ValueError(f"label_loss must be one of {', '.join(LABEL_LOSSES)}, got {settings['label_loss']!r}")
    scale = settings["score_scale"]
    if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"score_scale must be a positive number, got {scale!r}")
    check_augmentation(**{key: settings[key] for key in AUGMENTATION_KEYS})
    if settings["item_bias_init"] not in ITEM_BIAS_INITS:
        raise ValueError(f"item_bias_init must be one of {', '.join(ITEM_BIAS_INITS)}, "
                         f"got {settings['item_bias_init']!r}")
    if settings["item_bias_init"] != "zero" and config["item_bias"] != "item":
        raise ValueError(f"item_bias_init: {settings['item_bias_init']} needs item_bias: item (a free bias per item)")
    if config["mining"] not in MINING_STRATEGIES:
        raise ValueError(f"mining must be one of {', '.join(MINING_STRATEGIES)}, got {config['mining']!r}")
    kept_nonpositive = config["train_nonpositive_as_negatives"] is True
    if kept_nonpositive and not settings["known_negatives"]:
        raise ValueError("train_nonpositive_as_negatives: True needs known_negatives: True for PoseRec "
                         "(it would learn the label-0 rows as positives)")
    if settings["known_negatives"] and not kept_nonpositive:
        raise ValueError("known_negatives: True needs train_nonpositive_as_negatives: True (without it the "
                         "train split holds no label-0 row)")
    return settings


def popularity_prior(items: torch.Tensor, n_items: int, score_scale: float) -> torch.Tensor:
    """The free item bias ``item_bias_init: popularity`` starts at: b_i = (log(n_i + 1) - mean_j log(n_j + 1)) / s,
    with n_i the positive training rows of item i (``items``), the mean over the catalogue without the padding
    item and s the (initial) score scale. With every Eq. 7 score at 0 the scaled softmax over items is then the
    add-one training frequency, so the first ranking is Pop's; the padding item is never ranked."""
    log_counts = torch.log1p(torch.bincount(items, minlength=n_items).double())
    real = torch.ones(n_items, dtype=torch.bool)
    real[PADDING_ITEM] = False
    return ((log_counts - log_counts[real].mean()) / score_scale).float()


class PoseRec(GeneralRecommender):
    """Human-pose-driven object effects recommendation (see module docstring)."""

    input_type = InputType.PAIRWISE
    # With known_negatives: True, PoseRec learns the train split's label-0 rows as negatives, so the dataset
    # may keep them (train_nonpositive_as_negatives: True; recbole_poserec.data.dataset reads this).
    learns_known_negatives = True

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
        variants = read_variant_settings(config)
        self.triplet_hinge = variants["triplet_hinge"]
        self.label_loss_type = variants["label_loss"]
        self.known_negatives = variants["known_negatives"]
        self.augmentation = {"rotation": variants["augment_rotation"], "scale": variants["augment_scale"],
                             "time_shift": variants["augment_time_shift"]}
        self.fixed_score_scale = float(variants["score_scale"])
        if variants["learn_score_scale"]:  # a model-level parameter: not part of the network a checkpoint scores with
            self.log_score_scale = torch.nn.Parameter(torch.tensor(math.log(self.fixed_score_scale)))
        else:
            self.log_score_scale = None
        self.LABEL = config["LABEL_FIELD"]
        if self.known_negatives and self.LABEL not in dataset.inter_feat:
            raise ValueError(f"known_negatives: True needs the interaction field '{self.LABEL}' (LABEL_FIELD, load_col)")

        self.network = PoseRecNetwork.from_hyper_parameters(self._item_factor_tensor(dataset), config)
        if variants["item_bias_init"] == "popularity":
            with torch.no_grad():
                self.network.free_bias.copy_(popularity_prior(self._positive_train_items(dataset), self.n_items,
                                                              self.fixed_score_scale))
        user_feat = dataset.get_user_feature()
        # (n_windows, T, V, C) and (n_windows,), by internal window id; rebuilt from the dataset, never saved.
        self.register_buffer("window_poses", self._window_pose_table(user_feat), persistent=False)
        if self.VIDEO not in user_feat:
            raise ValueError(f"the user field '{self.VIDEO}' (VIDEO_FIELD) is not loaded (load_col)")
        self.register_buffer("window_videos", user_feat[self.VIDEO].clone(), persistent=False)
        self._item_tokens = [str(token) for token in dataset.field2id_token[self.ITEM_ID]]
        self._item_names = self._item_name_list(dataset, config["ITEM_NAME_FIELD"] or ITEM_NAME_FIELD)
        self._cached_item_scoring = None

    def _item_factor_tensor(self, dataset) -> torch.Tensor:
        item_feat = dataset.get_item_feature()
        missing = [field for field in self.factor_fields if field not in item_feat]
        if missing:
            raise ValueError(f"item factor fields {missing} are not loaded in dataset '{dataset.dataset_name}'")
        return torch.stack([item_feat[field].float() for field in self.factor_fields], dim=1)

    def _positive_train_items(self, dataset) -> torch.Tensor:
        """The item of each positive row of ``dataset`` (the train split: label-0 rows, where kept, left out)."""
        items = dataset.inter_feat[self.ITEM_ID]
        if self.LABEL in dataset.inter_feat:
            items = items[dataset.inter_feat[self.LABEL] > 0]
        return items

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
        self._cached_item_scoring = None  # item vectors change with training; recompute per evaluation pass
        return super().train(mode)

    # ----- encoding -------------------------------------------------------------------------------
    def _encode_unique_windows(self, interaction, augment: bool = False):
        """Encode each distinct window of a batch once. Returns (e_v of uniques, unique window ids, each
        row's index into the uniques). ``augment`` (in training mode only) augments the poses first."""
        windows, inverse = torch.unique(interaction[self.USER_ID], return_inverse=True)
        poses = self.window_poses[windows]
        if augment and self.training:
            poses = augment_windows(poses, **self.augmentation)
        return self.network.video_embeddings(poses), windows, inverse

    def score_scale(self) -> torch.Tensor | float:
        """The positive scale L_label applies to Eq. 7 scores: exp of the learned log-scale, or the fixed one."""
        return self.fixed_score_scale if self.log_score_scale is None else self.log_score_scale.exp()

    def _scaled(self, scores: torch.Tensor) -> torch.Tensor:
        return scores if self.log_score_scale is None and self.fixed_score_scale == 1.0 else scores * self.score_scale()

    def _item_scoring(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """M and the item bias (None without one) of every item; cached for an evaluation pass."""
        if self.training:
            return self.network.item_matrix(), self.network.item_bias()
        if self._cached_item_scoring is None:
            self._cached_item_scoring = self.network.item_matrix(), self.network.item_bias()
        return self._cached_item_scoring

    @staticmethod
    def _pair_scores(video_chunks, items, item_chunks, omega, item_bias) -> torch.Tensor:
        """Eq. 7 (+ the item bias, where there is one) for aligned (window, item) pairs."""
        scores = pair_scores(video_chunks, item_chunks[items], omega[items])
        return scores if item_bias is None else scores + item_bias[items]

    # ----- RecBole interface ---------------------------------------------------------------------
    def calculate_loss(self, interaction):
        """(L_triple, L_pro, L_label), each weighted (Eq. 8); RecBole's trainer sums the tuple."""
        K = self.network.num_prototypes
        embeddings, windows, inverse = self._encode_unique_windows(interaction, augment=True)
        video_chunks = chunk_normalize(embeddings, K)
        item_chunks, omega = self.network.item_representations()
        item_bias = self.network.item_bias()

        items = interaction[self.ITEM_ID]
        known = interaction[self.LABEL] <= 0 if self.known_negatives else None  # rows of known negatives
        positive_windows, positives = (inverse, items) if known is None else (inverse[~known], items[~known])

        def all_item_scores():  # (U, N) Eq. 7 scores and the mask of each window's positives
            scores = score_all_items(video_chunks, item_score_matrix(item_chunks, omega), item_bias)
            mask = torch.zeros_like(scores, dtype=torch.bool)
            mask[positive_windows, positives] = True
            return scores, mask

        # The paper's path keeps its order of operations (L_label first), so its gradients stay bit-identical.
        if self.label_loss_type == "softmax":
            all_scores, positive_mask = all_item_scores()
            padding = torch.tensor([PADDING_ITEM], device=all_scores.device)
            loss_label = softmax_label_loss(self._scaled(all_scores), positive_mask, positive_windows, positives,
                                            excluded_items=padding)
        else:
            negatives = interaction[self.NEG_ITEM_ID]
            window_chunks = video_chunks[inverse]
            row_scores = self._pair_scores(window_chunks, items, item_chunks, omega, item_bias)
            negative_scores = self._pair_scores(window_chunks, negatives, item_chunks, omega, item_bias)
            if known is None:
                positive_scores = row_scores
            else:
                positive_scores, negative_scores = row_scores[~known], torch.cat([negative_scores, row_scores[known]])
            loss_label = label_loss(self._scaled(positive_scores), self._scaled(negative_scores))

        loss_prototype = prototype_loss(self.network.item_side.prototypes)

        if self.label_loss_type != "softmax":
            all_scores, positive_mask = all_item_scores()
        window_videos = self.window_videos[windows]
        donors = donor_windows(window_videos, embeddings, self.mining, self.mining_threshold, self.mining_fraction)
        candidates = negative_candidates(window_videos, positive_mask, donors)
        mined, has_negative = select_negative_scores(all_scores, candidates, self.mining, self.mining_candidates)
        loss_triplet = triplet_loss(all_scores, positive_mask, mined, has_negative, self.margin, self.triplet_hinge)

        return (
            self.triplet_weight * loss_triplet,
            self.prototype_weight * loss_prototype,
            self.label_weight * loss_label,
        )

    def predict(self, interaction):
        """Eq. 7 (+ the item bias) for the (window, item) pairs of ``interaction``."""
        embeddings, _, inverse = self._encode_unique_windows(interaction)
        video_chunks = chunk_normalize(embeddings, self.network.num_prototypes)[inverse]
        item_chunks, omega = self.network.item_representations()
        return self._pair_scores(video_chunks, interaction[self.ITEM_ID], item_chunks, omega, self.network.item_bias())

    def full_sort_predict(self, interaction):
        """Eq. 7 (+ the item bias) for each window against every item: one matrix product with M (computed once
        per pass)."""
        poses = self.window_poses[interaction[self.USER_ID]]
        return self.network.score_windows(poses, *self._item_scoring()).reshape(-1)
