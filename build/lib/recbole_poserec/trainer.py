"""Trainers: RecBole's, with weights-only checkpoints; and PoseRec's own trainer."""

from __future__ import annotations

import functools

from recbole.trainer import Trainer as RecBoleTrainer

from recbole_poserec.checkpoint import load_checkpoint, plain_config, save_checkpoint


class SafeCheckpointMixin:
    """Replaces RecBole's checkpoint save/load by weights-only files (see :mod:`recbole_poserec.checkpoint`).

    The saved file also carries ``model``, ``dataset``, the plain configuration and, when the model
    offers ``catalogue()``, the item catalogue (tokens and names), so that a checkpoint alone is
    enough to recommend for a new video.
    """

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


@functools.lru_cache(maxsize=None)
def with_safe_checkpoints(trainer_class):
    """``trainer_class`` (a RecBole trainer) with weights-only checkpoints."""
    if issubclass(trainer_class, SafeCheckpointMixin):
        return trainer_class
    return type(trainer_class.__name__, (SafeCheckpointMixin, trainer_class), {"__module__": __name__})


Trainer = with_safe_checkpoints(RecBoleTrainer)


class PoseRecTrainer(Trainer):
    """Trainer for :class:`recbole_poserec.model.poserec.PoseRec`.

    RecBole's loop as is; the model returns its three loss terms as a tuple (L_triple, L_pro,
    L_label, Eq. 8), which RecBole's trainer sums and logs term by term.
    """
