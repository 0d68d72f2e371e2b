r"""
AFN
################################################
Reference:
    Weiyu Cheng, Yanyan Shen and Linpeng Huang. "Adaptive Factorization Network: Learning Adaptive-Order
    Feature Interactions." in AAAI 2020.

Model (paper, Section "Adaptive Factorization Network"):

1. Embedding layer: one :math:`d`-dimensional embedding :math:`\mathbf e_i` per feature field
   (RecBole's ``concat_embed_input_fields``; a numerical field's embedding is scaled by its value).
2. Logarithmic transformation layer with :math:`L` logarithmic neurons
   (:class:`~recbole_poserec.model.layers.afn_layers.LogarithmicTransformation`):
   :math:`\mathbf y_j = \exp(\sum_i w_{ij}\ln|\mathbf e_i|) = \prod_i |\mathbf e_i|^{w_{ij}}`, with batch
   normalisation on the logarithms and on the outputs.
3. Feed-forward layers on the flattened :math:`[\mathbf y_1;\dots;\mathbf y_L]` (ReLU, batch norm, dropout)
   and a linear output: :math:`\hat y_{AFN} = \mathbf w^\top \mathbf z + b`.
4. Optional AFN+ (``afn_plus: True``): an ensemble with a DNN on the flattened field embeddings,
   :math:`\hat y = \sigma(w_{AFN}\,\hat y_{AFN} + w_{DNN}\,\hat y_{DNN} + b)`. In this implementation the
   two components share the field embeddings (as DeepFM's FM and DNN parts do in RecBole).

Trained pointwise with binary cross-entropy on logits (``BCEWithLogitsLoss``) like RecBole's context-aware
models. Feature fields: the plug-in's :class:`FeatureSelectionMixin` (no window-ID / video-ID feature;
pose and item-factor vectors embedded per position); see ``docs/baselines.md``.
"""

import torch
import torch.nn as nn
from recbole.model.init import xavier_normal_initialization
from torch.nn.init import constant_

from recbole.model.abstract_recommender import ContextRecommender
from recbole.model.layers import MLPLayers
from recbole.utils import InputType

from recbole_poserec.model.layers.afn_layers import LogarithmicTransformation
from recbole_poserec.model.layers.feature_selection import FeatureSelectionMixin


class AFN(FeatureSelectionMixin, ContextRecommender):
    """Adaptive Factorization Network (optionally AFN+) on RecBole's context-aware feature fields."""

    input_type = InputType.POINTWISE

    def __init__(self, config, dataset):
        super(AFN, self).__init__(config, dataset)

        # load parameters info
        self.logarithmic_neurons = config["logarithmic_neurons"]
        self.log_eps = config["log_eps"]
        self.mlp_hidden_size = list(config["mlp_hidden_size"])
        self.dropout_prob = config["dropout_prob"]
        self.afn_plus = bool(config["afn_plus"])
        if self.num_feature_field < 1:
            raise ValueError("AFN needs at least one feature field (check numerical_features / exclude_feature_fields)")

        # define layers and loss
        self.log_transform = LogarithmicTransformation(
            self.num_feature_field, self.logarithmic_neurons, eps=self.log_eps, batch_norm=True
        )
        size_list = [self.logarithmic_neurons * self.embedding_size] + self.mlp_hidden_size
        self.mlp_layers = MLPLayers(size_list, self.dropout_prob, bn=True)
        self.predict_layer = nn.Linear(self.mlp_hidden_size[-1], 1)
        if self.afn_plus:
            self.dnn_hidden_size = list(config["dnn_hidden_size"])
            dnn_sizes = [self.num_feature_field * self.embedding_size] + self.dnn_hidden_size
            self.dnn_layers = MLPLayers(dnn_sizes, self.dropout_prob, bn=True)
            self.dnn_predict_layer = nn.Linear(self.dnn_hidden_size[-1], 1)
            self.ensemble_layer = nn.Linear(2, 1)  # w_AFN, w_DNN and b
        self.sigmoid = nn.Sigmoid()
        self.loss = nn.BCEWithLogitsLoss()

        # parameters initialization
        self.apply(xavier_normal_initialization)
        if self.afn_plus:
            # start the ensemble as the plain sum of both logits
            constant_(self.ensemble_layer.weight.data, 1.0)
            constant_(self.ensemble_layer.bias.data, 0.0)


    def forward(self, interaction):
        afn_all_embeddings = self.concat_embed_input_fields(interaction)  # [batch_size, num_field, embed_dim]
        batch_size = afn_all_embeddings.shape[0]
        cross = self.log_transform(afn_all_embeddings)  # [batch_size, L, embed_dim]
        y_afn = self.predict_layer(self.mlp_layers(cross.reshape(batch_size, -1)))  # [batch_size, 1]
        if not self.afn_plus:
            return y_afn.squeeze(-1)
        y_dnn = self.dnn_predict_layer(self.dnn_layers(afn_all_embeddings.reshape(batch_size, -1)))
        y = self.ensemble_layer(torch.cat([y_afn, y_dnn], dim=-1))
        return y.squeeze(-1)

    def calculate_loss(self, interaction):
        label = interaction[self.LABEL]
        output = self.forward(interaction)
        return self.loss(output, label)

    def predict(self, interaction):
        return self.sigmoid(self.forward(interaction))
