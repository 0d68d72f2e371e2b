r"""
PoseKNN
################################################
A label-free nearest-neighbour recommender: a window gets the positive items of the training windows whose
pose looks most like its own.

For a query window :math:`q` with pose feature :math:`\mathbf x_q` (``knn_feature``: ``pose_pca``, the
converter's 32-d standardised PCA of the window, or ``pose``, the raw flattened window), let :math:`N_k(q)` be
the ``knn_k`` training windows :math:`w \ne q` of highest cosine similarity
:math:`s_{qw} = \cos(\mathbf x_q, \mathbf x_w)`. The score of item :math:`i` is

.. math::

    \hat y_{qi} = \sum_{w \in N_k(q)} \omega(s_{qw}) \, P_{wi},\qquad
    \omega(s) = \begin{cases} \max(s, 0)^{p} & \texttt{knn\_weighting: cosine} \\
                              1 & \texttt{knn\_weighting: uniform} \end{cases}

with :math:`p` = ``knn_power`` and :math:`P_{wi} = 1` when the training interaction (w, i) is a positive
(``LABEL_FIELD`` = 1, i.e. score > 0), else 0: weak and negative annotations give no credit. The training
windows are those of the train dataset's interactions (the plug-in's datasets hold only positives, so every
one has at least one; with other data a window without positives is a neighbour that contributes nothing). A query that is itself a training window never counts itself (same id).

Nothing is learned: the feature table of all windows (unit rows) and :math:`P` are built once from the dataset
the model is given (RecBole passes the train split) and kept on the device, rebuilt rather than saved.
``full_sort_predict`` is one similarity product ``[batch, n_train]``, ``topk``, and one product of the
neighbour-weight matrix with :math:`P`; :math:`P^\top` is a sparse ``[n_items, n_train]`` tensor (about five
positives a window), which on the default data makes that product ~10x faster than a dense one
(see ``docs/baselines.md``). The train dimension is not chunked: ``[batch, n_train]`` float32 is ~8 MB for
the default data's 8,576 train windows and 241-window evaluation batches.
"""

import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.utils import FeatureType, InputType, ModelType

KNN_WEIGHTINGS = ("cosine", "uniform")


class PoseKNN(GeneralRecommender):
    r"""Similarity-weighted positive items of the k nearest training windows (see module docstring)."""

    input_type = InputType.POINTWISE
    type = ModelType.TRADITIONAL

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.k = config["knn_k"]
        self.weighting = config["knn_weighting"]
        self.power = config["knn_power"]
        self.FEATURE = config["knn_feature"]
        self.LABEL = config["LABEL_FIELD"]
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"knn_k must be an integer >= 1, got {self.k!r}")
        if self.weighting not in KNN_WEIGHTINGS:
            raise ValueError(f"knn_weighting must be one of {KNN_WEIGHTINGS}, got {self.weighting!r}")
        if isinstance(self.power, bool) or not isinstance(self.power, (int, float)) or not self.power > 0:
            raise ValueError(f"knn_power must be a number > 0, got {self.power!r}")

        features = self._window_feature_table(dataset)
        train_windows, positives_t = self._train_positives(dataset)
        # by internal window id / by train row; rebuilt from the dataset, never saved
        self.register_buffer("window_features", features, persistent=False)
        self.register_buffer("train_windows", train_windows, persistent=False)
        self.register_buffer("train_features", features[train_windows].contiguous(), persistent=False)
        self.register_buffer("train_positives_t", positives_t, persistent=False)
        self.fake_loss = torch.nn.Parameter(torch.zeros(1))  # RecBole's trainer needs a parameter to optimise

    def _window_feature_table(self, dataset) -> torch.Tensor:
        """``[n_windows, d]``: the ``knn_feature`` of every window by internal id, each row of unit norm
        (a zero row, such as the padding id 0, stays zero and is similar to nothing)."""
        user_feat = dataset.get_user_feature()
        if self.FEATURE not in user_feat or dataset.field2type.get(self.FEATURE) not in (
                FeatureType.FLOAT_SEQ, FeatureType.FLOAT):
            raise ValueError(f"knn_feature '{self.FEATURE}' must be a float or float_seq user field listed in "
                             f"load_col['user'] (the converter writes pose_pca and pose)")
        features = user_feat[self.FEATURE].float()
        if features.dim() == 1:
            features = features.unsqueeze(1)
        return F.normalize(features.reshape(features.shape[0], -1), dim=1)

    def _train_positives(self, dataset) -> tuple[torch.Tensor, torch.Tensor]:
        """The sorted internal ids of the training windows ``[n_train]`` and the sparse positive matrix
        transposed, ``[n_items, n_train]`` (1 where the window has the item with label 1)."""
        inter = dataset.inter_feat
        if self.LABEL not in inter:
            raise ValueError(f"PoseKNN counts positives by the label field '{self.LABEL}' (LABEL_FIELD), which is "
                             "not loaded: add it to load_col['inter']")
        windows, items = inter[self.USER_ID].long(), inter[self.ITEM_ID].long()
        train_windows = torch.unique(windows)
        positive = inter[self.LABEL] > 0
        rows = torch.searchsorted(train_windows, windows[positive])
        pairs = torch.unique(torch.stack([items[positive], rows]), dim=1)  # a repeated annotation counts once
        positives_t = torch.sparse_coo_tensor(pairs, torch.ones(pairs.shape[1]),
                                              (self.n_items, len(train_windows))).coalesce()
        return train_windows, positives_t

    def forward(self):
        pass

    def calculate_loss(self, interaction):
        """Nothing to learn (as RecBole's Pop and Random)."""
        return torch.nn.Parameter(torch.zeros(1)).to(self.device)

    def neighbour_weights(self, windows: torch.Tensor) -> torch.Tensor:
        """``[batch, n_train]``: each window's weight on every training window, non-zero only for its k
        nearest (the window itself excluded)."""
        similarity = self.window_features[windows] @ self.train_features.T
        itself = windows.unsqueeze(1) == self.train_windows.unsqueeze(0)
        similarity = similarity.masked_fill(itself, float("-inf"))
        nearest, index = similarity.topk(min(self.k, similarity.shape[1]), dim=1)
        if self.weighting == "cosine":
            weights = nearest.clamp(min=0.0) ** self.power
        else:
            weights = torch.ones_like(nearest)
        weights = weights.masked_fill(torch.isinf(nearest), 0.0)  # only when k reaches past the other windows
        return torch.zeros_like(similarity).scatter_(1, index, weights)

    def window_scores(self, windows: torch.Tensor) -> torch.Tensor:
        """``[batch, n_items]``: the scores of every item for each window (one sparse-dense product)."""
        return torch.sparse.mm(self.train_positives_t, self.neighbour_weights(windows).T).T

    def predict(self, interaction):
        """The score of each (window, item) row: each distinct window is scored once, as in full sort."""
        windows, inverse = torch.unique(interaction[self.USER_ID], return_inverse=True)
        return self.window_scores(windows)[inverse, interaction[self.ITEM_ID]]

    def full_sort_predict(self, interaction):
        """Every item's score for each window: ``[batch * n_items]``, row-major by window."""
        return self.window_scores(interaction[self.USER_ID]).reshape(-1)
