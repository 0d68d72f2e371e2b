"""Trainers: RecBole's, with weights-only checkpoints and a record of where the training time went.

:func:`recbole_poserec.utils.get_trainer` picks ``<Model>Trainer`` of this module if there is one,
else the plug-in's subclass of the trainer RecBole would use: :class:`Trainer` (general and
context-aware models, PoseRec included: RecBole's loop sums and logs its tuple of loss terms, Eq. 8)
or :class:`TraditionalTrainer` (Pop, Random, ItemKNN: one epoch). Both evaluate the test split by window
(:meth:`UnitEvaluationMixin.evaluate_windows`, RecBole's full ranking) and by video
(:meth:`UnitEvaluationMixin.evaluate_videos`), with each unit's metric values.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch
from recbole.trainer import TraditionalTrainer as RecBoleTraditionalTrainer
from recbole.trainer import Trainer as RecBoleTrainer
from recbole.utils import set_color
from tqdm import tqdm

from recbole_poserec.checkpoint import load_checkpoint, plain_config, save_checkpoint
from recbole_poserec.evaluation.aggregation import DEFAULT_AGGREGATION
from recbole_poserec.evaluation.units import UnitEvaluation, UnitEvaluator
from recbole_poserec.evaluation.video import video_full_sort_scores


@dataclass
class TrainingTiming:
    """Where :meth:`fit` spent its time.

    ``train_epochs``: epochs actually run (early stopping included); ``train_batches``: training
    batches (calls of the loss function in ``_train_epoch``); ``train_loop_seconds``: time inside
    ``_train_epoch`` (data loading, negative sampling, forward, backward and optimiser step);
    ``valid_seconds`` / ``valid_passes``: validation during ``fit``.
    """

    train_loop_seconds: float = 0.0
    train_epochs: int = 0
    train_batches: int = 0
    valid_seconds: float = 0.0
    valid_passes: int = 0

    def as_dict(self) -> dict:
        """The fields plus ``train_step_seconds`` = ``train_loop_seconds / train_batches`` (None without a batch)."""
        step = self.train_loop_seconds / self.train_batches if self.train_batches else None
        return asdict(self) | {"train_step_seconds": step}


class WeightsOnlyTimedMixin:
    """Put before a RecBole trainer class: weights-only checkpoints (see :mod:`recbole_poserec.checkpoint`)
    and :class:`TrainingTiming` in ``self.timing``.

    The saved file also carries ``model``, ``dataset``, the plain configuration and, when the model
    offers ``catalogue()``, the item catalogue (tokens and names), so that a checkpoint alone is
    enough to recommend for a new video.
    """

    def __init__(self, config, model):
        super().__init__(config, model)
        self.timing = TrainingTiming()

    # ------------------------------------------------------------------------------------ timing

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        loss_func = loss_func or self.model.calculate_loss

        def counted_loss(interaction):
            self.timing.train_batches += 1
            return loss_func(interaction)

        started = time.perf_counter()
        try:
            return super()._train_epoch(train_data, epoch_idx, loss_func=counted_loss, show_progress=show_progress)
        finally:
            self.timing.train_loop_seconds += time.perf_counter() - started
            self.timing.train_epochs += 1

    def _valid_epoch(self, valid_data, show_progress=False):
        started = time.perf_counter()
        try:
            return super()._valid_epoch(valid_data, show_progress=show_progress)
        finally:
            self.timing.valid_seconds += time.perf_counter() - started
            self.timing.valid_passes += 1

    # ------------------------------------------------------------------------------- checkpoints

    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        if not self.config["single_spec"] and self.config["local_rank"] != 0:
            return
        saved_model_file = kwargs.pop("saved_model_file", self.saved_model_file)
        payload = {
            "model": self.config["model"],
            "dataset": self.config["dataset"],
            "config": plain_config(self.config),
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": float(self.best_valid_score),
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
        }
        if hasattr(self.model, "catalogue"):
            payload["catalogue"] = self.model.catalogue()
        save_checkpoint(saved_model_file, payload)
        if verbose:
            self.logger.info(f"Saving current: {saved_model_file}")

    def _load_weights(self, checkpoint_file):
        checkpoint = load_checkpoint(checkpoint_file, map_location=self.device)
        if checkpoint.get("model", self.config["model"]) != self.config["model"]:
            raise ValueError(
                f"{checkpoint_file}: checkpoint of model {checkpoint['model']}, not {self.config['model']}"
            )
        self.model.load_state_dict(checkpoint["state_dict"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))
        return checkpoint

    def resume_checkpoint(self, resume_file):
        resume_file = str(resume_file)
        self.saved_model_file = resume_file
        checkpoint = self._load_weights(resume_file)
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.logger.info(f"Checkpoint loaded. Resume training from epoch {self.start_epoch}")

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if eval_data and load_best_model:
            checkpoint_file = model_file or self.saved_model_file
            self._load_weights(checkpoint_file)
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        return super().evaluate(eval_data, load_best_model=False, model_file=None, show_progress=show_progress)


class UnitEvaluationMixin:
    """Put after :class:`WeightsOnlyTimedMixin`, before a RecBole trainer class: the test split evaluated by
    window and by video, with each unit's metric values, through RecBole's collector and evaluator.

    ``self.evaluator`` is a :class:`~recbole_poserec.evaluation.units.UnitEvaluator` (RecBole's, keeping its
    last data), so validation and :meth:`evaluate` are RecBole's as they were.
    """

    def __init__(self, config, model):
        super().__init__(config, model)
        self.evaluator = UnitEvaluator(config)

    def evaluate_windows(self, eval_data, load_best_model=True, model_file=None, show_progress=False) -> UnitEvaluation:
        """RecBole's :meth:`evaluate` on a full-sort loader, plus each window's values (ids: window tokens)."""
        result = self.evaluate(eval_data, load_best_model=load_best_model, model_file=model_file,
                               show_progress=show_progress)
        values = self.evaluator.per_unit()
        uid_field = eval_data._dataset.uid_field
        ids = [str(t) for t in eval_data._dataset.id2token(uid_field, eval_data.user_df[uid_field].numpy())]
        return UnitEvaluation(result, ids, values)

    @torch.no_grad()
    def evaluate_videos(self, eval_data, load_best_model=True, model_file=None, show_progress=False) -> UnitEvaluation:
        """Full ranking by video (:class:`~recbole_poserec.evaluation.video.VideoFullSortEvalDataLoader`).

        Each batch's windows are scored as RecBole's full-sort evaluation scores them (``_full_sort_batch_eval``:
        the model's ``full_sort_predict``, or ``predict`` on every pair), aggregated per video
        (``video_aggregation``), masked ([PAD] item and the video's history) and collected by RecBole's
        ``Collector``; RecBole's ``Evaluator`` gives the figures. ``ids``: the video tokens.
        """
        if load_best_model:
            checkpoint_file = model_file or self.saved_model_file
            self._load_weights(checkpoint_file)
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        self.model.eval()
        dataset = eval_data._dataset
        if self.item_tensor is None:
            self.item_tensor = dataset.get_item_feature().to(self.device)
        self.tot_item_num = dataset.item_num
        how = self.config["video_aggregation"] or DEFAULT_AGGREGATION
        batches = tqdm(eval_data, total=len(eval_data), ncols=100, desc=set_color("Evaluate videos", "pink")) \
            if show_progress else eval_data
        for windows, window_video, history, positive_u, positive_i in batches:
            _, window_scores, _, _ = self._full_sort_batch_eval((windows, None, None, None))
            scores = video_full_sort_scores(window_scores, window_video, history, how)
            self.eval_collector.eval_batch_collect(scores, windows, positive_u, positive_i)
        self.eval_collector.model_collect(self.model)
        struct = self.eval_collector.get_data_struct()
        result = self.evaluator.evaluate(struct)
        return UnitEvaluation(result, list(eval_data.video_tokens), self.evaluator.per_unit(struct))


class Trainer(WeightsOnlyTimedMixin, UnitEvaluationMixin, RecBoleTrainer):
    """RecBole's ``Trainer`` with weights-only checkpoints, timing and the window and video test protocols."""


class TraditionalTrainer(WeightsOnlyTimedMixin, UnitEvaluationMixin, RecBoleTraditionalTrainer):
    """RecBole's ``TraditionalTrainer`` (one epoch) with weights-only checkpoints, timing and both test protocols."""


# RecBole's trainer for a model type -> the plug-in's subclass of it (recbole_poserec.utils.get_trainer)
PLUGIN_TRAINERS = {RecBoleTrainer: Trainer, RecBoleTraditionalTrainer: TraditionalTrainer}
