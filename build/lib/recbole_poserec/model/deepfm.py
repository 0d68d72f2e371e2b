r"""
DeepFM
################################################
Reference:
    Huifeng Guo et al. "DeepFM: A Factorization-Machine based Neural Network for CTR Prediction." in IJCAI 2017.

RecBole's :class:`recbole.model.context_aware_recommender.DeepFM`
(:math:`\hat y = \sigma(y_{FM} + y_{DNN})`, both parts on shared field embeddings; RecBole's code, untouched)
with the plug-in's :class:`FeatureSelectionMixin`: no window-ID (or video-ID) feature field, and the
pose / item-factor vectors embedded per position. See ``docs/baselines.md``.
"""

from recbole.model.context_aware_recommender.deepfm import DeepFM as RecBoleDeepFM

from recbole_poserec.model.layers.feature_selection import FeatureSelectionMixin


class DeepFM(FeatureSelectionMixin, RecBoleDeepFM):
    """DeepFM over the selected feature fields (user-id field excluded)."""
