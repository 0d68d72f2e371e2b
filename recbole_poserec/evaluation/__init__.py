"""Evaluation protocols beside RecBole's window-level full ranking: the video level and per-unit metric values.

* :mod:`~recbole_poserec.evaluation.aggregation`: THE rule that turns a video's window scores into its item
  scores (mean or max), shared by the video-level evaluation and ``recommend``;
* :mod:`~recbole_poserec.evaluation.settings`: ``eval_protocols`` and ``video_aggregation``, checked, and the
  video field loaded for the video level;
* :mod:`~recbole_poserec.evaluation.video`: :class:`VideoFullSortEvalDataLoader`, batches of whole test videos;
* :mod:`~recbole_poserec.evaluation.units`: RecBole's ``Evaluator`` that also gives each unit's (window's or
  video's) metric values.
"""

from recbole_poserec.evaluation.aggregation import AGGREGATIONS, DEFAULT_AGGREGATION, aggregate_window_scores
from recbole_poserec.evaluation.settings import EVAL_PROTOCOLS, check_evaluation_settings, load_video_field
from recbole_poserec.evaluation.units import UnitEvaluation, UnitEvaluator
from recbole_poserec.evaluation.video import VideoFullSortEvalDataLoader

__all__ = [
    "AGGREGATIONS", "DEFAULT_AGGREGATION", "EVAL_PROTOCOLS", "UnitEvaluation", "UnitEvaluator",
    "VideoFullSortEvalDataLoader", "aggregate_window_scores", "check_evaluation_settings", "load_video_field",
]
