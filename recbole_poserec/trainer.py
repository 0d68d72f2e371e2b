"""Trainers: RecBole's, with weights-only checkpoints and a record of where the training time went.

:func:`recbole_poserec.utils.get_trainer` picks ``<Model>Trainer`` of this module if there is one,
else the plug-in's subclass of the trainer RecBole would use: :class:`Trainer` (general and
context-aware models, PoseRec included: RecBole's loop sums and logs its tuple of loss terms, Eq. 8)
or :class:`TraditionalTrainer` (Pop, Random, ItemKNN: one epoch).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from recbole.trainer import TraditionalTrainer as RecBoleTraditionalTrainer
from recbole.trainer import Trainer as RecBoleTrainer

from recbole_poserec.checkpoint import load_checkpoint, plain_config, save_checkpoint


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


class Trainer(WeightsOnlyTimedMixin, RecBoleTrainer):
    """RecBole's ``Trainer`` with weights-only checkpoints and timing."""


class TraditionalTrainer(WeightsOnlyTimedMixin, RecBoleTraditionalTrainer):
    """RecBole's ``TraditionalTrainer`` (one epoch) with weights-only checkpoints and timing."""


# RecBole's trainer for a model type -> the plug-in's subclass of it (recbole_poserec.utils.get_trainer)
PLUGIN_TRAINERS = {RecBoleTrainer: Trainer, RecBoleTraditionalTrainer: TraditionalTrainer}
