r"""
FM
################################################
Reference:
    Steffen Rendle. "Factorization Machines." in ICDM 2010.

RecBole's :class:`recbole.model.context_aware_recommender.FM` (the model equation
:math:`\hat y = w_0 + \sum_i w_i x_i + \sum_{i<j} \langle \mathbf v_i, \mathbf v_j\rangle x_i x_j`
is RecBole's, untouched) with the plug-in's :class:`FeatureSelectionMixin`: the pose window is seen
through its feature vector (``numerical_features``, position-embedded), never through the window-ID
embedding, because every test window is unseen (``exclude_feature_fields``). See ``docs/baselines.md``.
"""

from recbole.model.context_aware_recommender.fm import FM as RecBoleFM

from recbole_poserec.model.layers.feature_selection import FeatureSelectionMixin


class FM(FeatureSelectionMixin, RecBoleFM):
    """Factorization Machine over the selected feature fields (user-id field excluded)."""
