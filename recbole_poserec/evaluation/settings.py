"""The evaluation settings ``eval_protocols`` and ``video_aggregation`` (``properties/overall.yaml``).

``eval_protocols``: which test-split protocols :func:`recbole_poserec.quick_start.run_recbole` reports,
a list of ``window`` (RecBole's full ranking per 10-frame window) and ``video`` (full ranking per video,
:mod:`recbole_poserec.evaluation.video`); ``[]`` evaluates no test split at all (a search that selects on
validation, :mod:`poserec_experiments.tune`, computes no test figure). Validation, and with it model selection, is always
window-level (``valid_metric``). ``video_aggregation``: ``mean`` or ``max`` of a video's window scores.
"""

from __future__ import annotations

from recbole.utils import ModelType

from dataset_conversion.layout import VIDEO_FIELD
from recbole_poserec.evaluation.aggregation import AGGREGATIONS

EVAL_PROTOCOLS = ("window", "video")


def eval_protocols(config) -> tuple[str, ...]:
    """The configured protocols (both when unset)."""
    protocols = config["eval_protocols"]
    return EVAL_PROTOCOLS if protocols is None else tuple(protocols)


def video_field(config) -> str:
    """The user field naming each window's video: the dataset YAML's ``VIDEO_FIELD`` (default ``video_id``)."""
    return config["VIDEO_FIELD"] or VIDEO_FIELD


def check_evaluation_settings(config) -> None:
    """Raise the config's one-line setting error for a bad ``eval_protocols`` or ``video_aggregation``."""
    protocols = config["eval_protocols"]
    allowed = ", ".join(EVAL_PROTOCOLS)
    if protocols is not None:
        if not isinstance(protocols, (list, tuple)):
            raise config.setting_error("eval_protocols", f"expected a list of {allowed} (or []), got {protocols!r}")
        unknown = [p for p in protocols if p not in EVAL_PROTOCOLS]
        if unknown:
            raise config.setting_error("eval_protocols", f"unknown protocol {unknown[0]!r} (allowed: {allowed})")
        if len(set(protocols)) != len(protocols):
            raise config.setting_error("eval_protocols", f"a protocol is listed twice in {list(protocols)}")
    aggregation = config["video_aggregation"]
    if aggregation is not None and aggregation not in AGGREGATIONS:
        raise config.setting_error("video_aggregation", f"unknown aggregation {aggregation!r} "
                                                        f"(allowed: {', '.join(AGGREGATIONS)})")


def load_video_field(config) -> None:
    """With the ``video`` protocol, make the dataset load each window's video (``VIDEO_FIELD``) as a user feature.

    A model's ``load_col`` may leave it out (Pop and Random read no user file, the context-aware baselines only
    ``pose_pca``); it is then added for the evaluation, and a context-aware model whose
    ``exclude_feature_fields`` does not list it gets it listed, so that it never becomes a model feature.
    ``load_col: ~`` (every column) loads it already.
    """
    if "video" not in eval_protocols(config):
        return
    load_col, field = config["load_col"], video_field(config)
    if load_col is None:
        return
    user_columns = load_col.get("user")
    if user_columns is not None and field in user_columns:
        return
    user_columns = [config["USER_ID_FIELD"]] if user_columns is None else list(user_columns)
    config["load_col"] = {**load_col, "user": user_columns + [field]}
    excluded = config["exclude_feature_fields"]
    if config["MODEL_TYPE"] == ModelType.CONTEXT:
        excluded = [config["USER_ID_FIELD"]] if excluded is None else list(excluded)
        if field not in excluded:
            config["exclude_feature_fields"] = excluded + [field]
