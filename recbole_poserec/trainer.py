"""Trainers: RecBole's, with weights-only checkpoints and a record of where the training time went.

:func:`recbole_poserec.utils.get_trainer` picks ``<Model>Trainer`` of this module if there is one,
else the plug-in's subclass of the trainer RecBole would use: :class:`Trainer` (general and
context-aware models, PoseRec included: RecBole's loop sums and logs its tuple of loss terms, Eq. 8)
or :class:`TraditionalTrainer` (Pop, Random, ItemKNN: one epoch). Both evaluate the test split by window
(:meth:`UnitEvaluationMixin.evaluate_windows`, RecBole's full ranking) and by video
(:meth:`UnitEvaluationMixin.evaluate_videos`), with each unit's metric values.

Under RecBole's DDP (``single_spec`` False, :mod:`recbole_poserec.distributed`) the model is wrapped as
RecBole wraps it, on the rank's device (:class:`DeviceDistributedTrainer`); every evaluation first makes
every rank's model rank 0's, and its figures are over the units of all ranks (gathered, not RecBole's
weighted average of the ranks' figures); only global rank 0 saves and loads checkpoints.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import torch
from recbole.trainer import TraditionalTrainer as RecBoleTraditionalTrainer
from recbole.trainer import Trainer as RecBoleTrainer
from recbole.trainer.trainer import AbstractTrainer
from recbole.utils import ModelType, set_color
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from recbole_poserec.checkpoint import load_checkpoint, plain_config, save_checkpoint
from recbole_poserec.distributed import broadcast_model_from_rank0, is_distributed, is_main_process
from recbole_poserec.evaluation.aggregation import DEFAULT_AGGREGATION
from recbole_poserec.evaluation.units import UnitEvaluation, UnitEvaluator
from recbole_poserec.evaluation.video import video_full_sort_scores
from recbole_poserec.lr_schedule import LearningRateSchedule


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
    """Put before a RecBole trainer class: weights-only checkpoints (see :mod:`recbole_poserec.checkpoint`),
    :class:`TrainingTiming` in ``self.timing`` and the learning-rate schedule (:mod:`recbole_poserec.lr_schedule`).

    The saved file also carries ``model``, ``dataset``, the plain configuration and, when the model
    offers ``catalogue()``, the item catalogue (tokens and names), so that a checkpoint alone is
    enough to recommend for a new video.
    """

    def __init__(self, config, model):
        super().__init__(config, model)
        self.timing = TrainingTiming()
        self.lr_schedule = LearningRateSchedule.from_config(config)
        self.lr_scheduler = None  # attached at the first epoch, when the number of batches an epoch is known
        self._resumed_lr_state = None
        if not is_main_process(config):
            self._drop_tensorboard()

    def _drop_tensorboard(self) -> None:
        """A rank other than 0 writes no TensorBoard events: RecBole's writer is closed and the event file
        it created removed (its folder too, when that leaves it empty)."""
        writer, self.tensorboard = self.tensorboard, _NoTensorBoard()
        event_file = getattr(getattr(writer.file_writer, "event_writer", None), "_file_name", None)
        writer.close()
        if event_file and os.path.isfile(event_file):
            os.remove(event_file)
            try:
                os.rmdir(os.path.dirname(event_file))
            except OSError:
                pass  # another writer's files are there

    # ------------------------------------------------------------------------------------ timing

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        loss_func = loss_func or self.model.calculate_loss

        def counted_loss(interaction):
            self.timing.train_batches += 1
            return loss_func(interaction)

        if self.lr_schedule.active and self.lr_scheduler is None:
            self.lr_scheduler = self.lr_schedule.attach(self.optimizer, len(train_data), self.epochs,
                                                        self._resumed_lr_state)
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
        if not is_main_process(self.config):
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
        if self.lr_scheduler is not None:
            payload["lr_scheduler"] = self.lr_scheduler.state_dict()
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
        self._resumed_lr_state = checkpoint.get("lr_scheduler")
        self.logger.info(f"Checkpoint loaded. Resume training from epoch {self.start_epoch}")

    def load_best_weights(self, model_file=None) -> None:
        """The saved checkpoint's weights into the model; under DDP global rank 0 reads the file (the other
        ranks get its weights before each evaluation, :func:`broadcast_model_from_rank0`)."""
        if not is_main_process(self.config):
            return
        checkpoint_file = model_file or self.saved_model_file
        self._load_weights(checkpoint_file)
        self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if eval_data and load_best_model:
            self.load_best_weights(model_file)
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

    def _prepare_distributed_evaluation(self, eval_data) -> None:
        """Under DDP: rank 0's model on every rank, and this rank's units for the evaluator's gathering."""
        broadcast_model_from_rank0(self.model)
        self.evaluator.shard_positions = eval_data.unit_positions()

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if not eval_data or not is_distributed(self.config):
            return super().evaluate(eval_data, load_best_model=load_best_model, model_file=model_file,
                                    show_progress=show_progress)
        if load_best_model:
            self.load_best_weights(model_file)
        self._prepare_distributed_evaluation(eval_data)
        try:
            return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)
        finally:
            self.evaluator.shard_positions = None

    def _map_reduce(self, result, num_sample):
        """RecBole averages the ranks' figures weighted by their batch counts; here the evaluator already
        gathered every rank's units, so ``result`` is the figure over all of them."""
        return result

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
            self.load_best_weights(model_file)
        if is_distributed(self.config):
            self._prepare_distributed_evaluation(eval_data)
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
        try:
            result = self.evaluator.evaluate(struct)
        finally:
            self.evaluator.shard_positions = None
        struct = self.evaluator.last_struct  # under DDP: every rank's videos
        return UnitEvaluation(result, list(eval_data.video_tokens), self.evaluator.per_unit(struct))


class _NoTensorBoard:
    """A TensorBoard writer that writes nothing (ranks other than 0)."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class DeviceDistributedTrainer(AbstractTrainer):
    """RecBole's ``AbstractTrainer.__init__`` with DDP on the rank's device; put after a RecBole trainer class
    (it then runs in place of ``AbstractTrainer.__init__``).

    RecBole 1.2.1 converts batch norms to ``SyncBatchNorm`` and passes ``device_ids=[local_rank]``, which
    only works on GPUs. Here: on a GPU the same; on the CPU (gloo) plain DDP with local batch norms. Both
    with ``broadcast_buffers=False``: RecBole's loop calls the DDP wrapper once per step (``set_reduce_hook``),
    and a model's large constant buffers (PoseRec's table of every window's pose) would be sent each time;
    batch-norm statistics are made rank 0's before every evaluation instead. A traditional model (nothing
    learned by gradients) is not wrapped: every rank trains it on the whole training split.
    """

    def __init__(self, config, model):
        self.config = config
        self.model = model
        self.distributed_model = None
        if config["single_spec"] or config["MODEL_TYPE"] == ModelType.TRADITIONAL:
            return
        if config["device"].type == "cuda":
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            self.distributed_model = DistributedDataParallel(self.model, device_ids=[config["local_rank"]],
                                                             broadcast_buffers=False)
        else:
            self.distributed_model = DistributedDataParallel(self.model, broadcast_buffers=False)

    def set_reduce_hook(self):
        if self.distributed_model is not None:
            super().set_reduce_hook()


class Trainer(WeightsOnlyTimedMixin, UnitEvaluationMixin, RecBoleTrainer, DeviceDistributedTrainer):
    """RecBole's ``Trainer`` with weights-only checkpoints, timing and the window and video test protocols."""


class TraditionalTrainer(WeightsOnlyTimedMixin, UnitEvaluationMixin, RecBoleTraditionalTrainer,
                         DeviceDistributedTrainer):
    """RecBole's ``TraditionalTrainer`` (one epoch) with weights-only checkpoints, timing and both test protocols."""


# RecBole's trainer for a model type -> the plug-in's subclass of it (recbole_poserec.utils.get_trainer)
PLUGIN_TRAINERS = {RecBoleTrainer: Trainer, RecBoleTraditionalTrainer: TraditionalTrainer}
