r"""
NeuMF
################################################
Reference:
    Xiangnan He et al. "Neural Collaborative Filtering." in WWW 2017 (the paper's "NCF" baseline).

RecBole's :class:`recbole.model.general_recommender.NeuMF` with a **pose-feature user side**.

In Pose-OBE every user is a pose window and the split is by video, so every valid/test window is a
user never seen in training: RecBole's NeuMF would score it through randomly initialised user-ID
embeddings. Here the two user embeddings are linear maps of the window's pose feature
:math:`\mathbf x_u` (``user_feature_field``, default ``pose_pca``: the 32-d standardised PCA of the window):

.. math::

    \mathbf p_u^{G} = \mathbf A_G \mathbf x_u + \mathbf a_G,\qquad
    \mathbf p_u^{M} = \mathbf A_M \mathbf x_u + \mathbf a_M,

and the rest is NeuMF unchanged (He et al., Eq. for NeuMF):
:math:`\hat y_{ui} = \sigma(\mathbf h^\top[\mathbf p_u^{G} \odot \mathbf q_i^{G};\ \mathrm{MLP}([\mathbf p_u^{M};\mathbf q_i^{M}])])`.
The item side keeps RecBole's item-ID embeddings :math:`\mathbf q_i^{G}, \mathbf q_i^{M}` (items are shared by
all splits). ``full_sort_predict`` encodes each window once and scores all items in one batched pass.
RecBole's MF/MLP pre-training (``use_pretrain``) is not supported (it copies user-ID embeddings).
"""

import torch
import torch.nn as nn
from torch.nn.init import constant_, xavier_normal_

from recbole.model.general_recommender.neumf import NeuMF as RecBoleNeuMF
from recbole.utils import FeatureType


class NeuMF(RecBoleNeuMF):
    """NeuMF whose user embeddings are linear projections of the pose feature instead of ID lookups."""

    def __init__(self, config, dataset):
        if config["use_pretrain"]:
            raise ValueError("the plug-in's NeuMF has no user-ID embeddings to pre-train; set use_pretrain: False")
        super(NeuMF, self).__init__(config, dataset)

        self.USER_FEATURE = config["user_feature_field"]
        ftype = dataset.field2type.get(self.USER_FEATURE)
        if ftype not in (FeatureType.FLOAT_SEQ, FeatureType.FLOAT):
            raise ValueError(
                f"user_feature_field '{self.USER_FEATURE}' must be a loaded float or float_seq user field "
                f"(found type {ftype}); is it in load_col and not in unused_col?"
            )
        self.user_feature_size = int(dataset.field2seqlen[self.USER_FEATURE]) if ftype == FeatureType.FLOAT_SEQ else 1

        # the user side: pose feature -> GMF / MLP user embedding spaces (replaces the user-ID tables)
        del self.user_mf_embedding
        del self.user_mlp_embedding
        self.user_mf_projection = nn.Linear(self.user_feature_size, self.mf_embedding_size)
        self.user_mlp_projection = nn.Linear(self.user_feature_size, self.mlp_embedding_size)
        for layer in (self.user_mf_projection, self.user_mlp_projection):
            xavier_normal_(layer.weight.data)
            constant_(layer.bias.data, 0.0)

    def user_features(self, interaction) -> torch.Tensor:
        """The pose feature of each row: ``[batch, user_feature_size]``.

        A float_seq listed in ``numerical_features`` arrives as ``(value, index)`` pairs ``[batch, L, 2]``;
        only the values are used. A float field arrives as ``[batch]``.
        """
        x = interaction[self.USER_FEATURE]
        if x.dim() == 3:
            x = x[..., 0]
        if x.dim() == 1:
            x = x.unsqueeze(-1)
        return x.float()

    def _score(self, user_mf_e, item_mf_e, user_mlp_e, item_mlp_e):
        """NeuMF's logit for broadcastable user/item embeddings (last dimension = embedding)."""
        if self.mf_train:
            mf_output = torch.mul(user_mf_e, item_mf_e)  # [..., mf_embedding_size]
        if self.mlp_train:
            mlp_output = self.mlp_layers(torch.cat((user_mlp_e, item_mlp_e), -1))  # [..., layers[-1]]
        if self.mf_train and self.mlp_train:
            output = self.predict_layer(torch.cat((mf_output, mlp_output), -1))
        elif self.mf_train:
            output = self.predict_layer(mf_output)
        elif self.mlp_train:
            output = self.predict_layer(mlp_output)
        else:
            raise RuntimeError("mf_train and mlp_train can not be False at the same time")
        return output.squeeze(-1)

    def forward(self, user_feature, item):
        """Logits for rows ``(user_feature[b], item[b])``; ``user_feature``: ``[batch, user_feature_size]``."""
        return self._score(
            self.user_mf_projection(user_feature),
            self.item_mf_embedding(item),
            self.user_mlp_projection(user_feature),
            self.item_mlp_embedding(item),
        )

    def calculate_loss(self, interaction):
        item = interaction[self.ITEM_ID]
        label = interaction[self.LABEL]
        output = self.forward(self.user_features(interaction), item)
        return self.loss(output, label)

    def predict(self, interaction):
        item = interaction[self.ITEM_ID]
        return self.sigmoid(self.forward(self.user_features(interaction), item))

    def full_sort_predict(self, interaction):
        """Scores of every item for each window: ``[batch * n_items]`` (RecBole's flattened layout)."""
        x = self.user_features(interaction)  # [B, p]
        batch_size = x.shape[0]
        user_mf_e = self.user_mf_projection(x).unsqueeze(1)  # [B, 1, d_mf]
        user_mlp_e = self.user_mlp_projection(x).unsqueeze(1).expand(-1, self.n_items, -1)  # [B, n, d_mlp]
        item_mf_e = self.item_mf_embedding.weight.unsqueeze(0)  # [1, n, d_mf]
        item_mlp_e = self.item_mlp_embedding.weight.unsqueeze(0).expand(batch_size, -1, -1)  # [B, n, d_mlp]
        scores = self.sigmoid(self._score(user_mf_e, item_mf_e, user_mlp_e, item_mlp_e))  # [B, n]
        return scores.reshape(-1)
