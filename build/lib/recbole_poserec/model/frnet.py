r"""
FRNet
################################################
Reference:
    Fangye Wang et al. "Enhancing CTR Prediction with Context-Aware Feature Representation Learning."
    in SIGIR 2022.

FRNet is a module that refines the field embeddings :math:`\mathbf E` of each instance into
context-aware ones :math:`\mathbf E_r` before any CTR backbone
(:class:`~recbole_poserec.model.layers.frnet_layers.FeatureRefinementLayer`):

* two Information Extraction Units, each :math:`\mathrm{IEU}(\mathbf E) = \mathbf O_{vec} \odot \mathbf v_{bit}`
  (self-attention over fields :math:`\odot` a bit-level contextual vector from an MLP on all fields);
* the Complementary Selection Gate (CSGate):
  :math:`\mathbf E_c = \mathrm{IEU}_G(\mathbf E)`, :math:`\mathbf W = \sigma(\mathrm{IEU}_W(\mathbf E))`,
  :math:`\mathbf E_r = \mathbf W \odot \mathbf E_c + (1-\mathbf W)\odot \mathbf E`.

Backbone (``backbone``; the paper plugs FRNet into several CTR models):

* ``deepfm`` (default): :math:`\hat y = \sigma(w_0 + \sum_i w_i x_i + \mathrm{FM}(\mathbf E_r) + \mathrm{DNN}(\mathbf E_r))`
  -- exactly RecBole's DeepFM computed on the refined embeddings, so FRNet vs DeepFM in the baseline table
  isolates the refinement module;
* ``fm``: first-order term + :math:`\mathrm{FM}(\mathbf E_r)`;
* ``dnn``: :math:`\mathrm{DNN}(\mathrm{flatten}(\mathbf E_r))`.

The first-order term (RecBole's ``first_order_linear``) reads the raw features, as in FM.
Trained pointwise with ``BCEWithLogitsLoss``. Feature fields: the plug-in's :class:`FeatureSelectionMixin`
(no window-ID / video-ID feature; pose and item-factor vectors embedded per position); see ``docs/baselines.md``.
"""

import torch.nn as nn
from recbole.model.init import xavier_normal_initialization

from recbole.model.abstract_recommender import ContextRecommender
from recbole.model.layers import BaseFactorizationMachine, MLPLayers
from recbole.utils import InputType

from recbole_poserec.model.layers.feature_selection import FeatureSelectionMixin
from recbole_poserec.model.layers.frnet_layers import FeatureRefinementLayer

BACKBONES = ("deepfm", "fm", "dnn")


class FRNet(FeatureSelectionMixin, ContextRecommender):
    """Feature Refinement Network (IEU + CSGate) in front of an FM / DNN / DeepFM backbone."""

    input_type = InputType.POINTWISE

    def __init__(self, config, dataset):
        super(FRNet, self).__init__(config, dataset)

        # load parameters info
        self.backbone = config["backbone"]
        if self.backbone not in BACKBONES:
            raise ValueError(f"FRNet backbone must be one of {BACKBONES}, got {self.backbone!r}")
        self.weight_type = config["weight_type"]
        self.attention_size = config["attention_size"]
        self.cie_hidden_size = list(config["cie_hidden_size"])
        self.mlp_hidden_size = list(config["mlp_hidden_size"])
        self.dropout_prob = config["dropout_prob"]
        if self.num_feature_field < 1:
            raise ValueError("FRNet needs at least one feature field (check numerical_features / exclude_feature_fields)")

        # define layers and loss
        self.refinement = FeatureRefinementLayer(
            self.num_feature_field,
            self.embedding_size,
            self.attention_size,
            self.cie_hidden_size,
            self.dropout_prob,
            weight_type=self.weight_type,
        )
        self.use_fm = self.backbone in ("deepfm", "fm")
        self.use_dnn = self.backbone in ("deepfm", "dnn")
        if self.use_fm:
            self.fm = BaseFactorizationMachine(reduce_sum=True)
        if self.use_dnn:
            size_list = [self.embedding_size * self.num_feature_field] + self.mlp_hidden_size
            self.mlp_layers = MLPLayers(size_list, self.dropout_prob)
            self.deep_predict_layer = nn.Linear(self.mlp_hidden_size[-1], 1)
        self.sigmoid = nn.Sigmoid()
        self.loss = nn.BCEWithLogitsLoss()

        # parameters initialization
        self.apply(xavier_normal_initialization)


    def forward(self, interaction):
        embeddings = self.concat_embed_input_fields(interaction)  # [batch_size, num_field, embed_dim]
        refined = self.refinement(embeddings)  # E_r, [batch_size, num_field, embed_dim]
        batch_size = refined.shape[0]
        y = 0.0
        if self.use_fm:
            y = y + self.first_order_linear(interaction) + self.fm(refined)  # [batch_size, 1]
        if self.use_dnn:
            y = y + self.deep_predict_layer(self.mlp_layers(refined.reshape(batch_size, -1)))
        return y.squeeze(-1)

    def calculate_loss(self, interaction):
        label = interaction[self.LABEL]
        output = self.forward(interaction)
        return self.loss(output, label)

    def predict(self, interaction):
        return self.sigmoid(self.forward(interaction))
