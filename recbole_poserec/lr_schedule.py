"""Learning-rate warm-up and decay for the plug-in's trainers (RecBole 1.2.1's trainer has neither).

Two settings of ``properties/overall.yaml``, whose defaults keep the learning rate constant, as RecBole does:

- ``lr_warmup_epochs`` (0): over the first this many epochs the learning rate rises linearly, step by step,
  from ``learning_rate`` / (warm-up steps) to ``learning_rate``;
- ``lr_schedule`` (``constant``): ``cosine`` then lowers it along half a cosine, step by step, to 0 at the last
  step of ``epochs`` (the maximum: a run that stops early stops part-way down).

Both are one :class:`torch.optim.lr_scheduler.LambdaLR`, stepped by a hook after every optimiser step, so the
schedule counts the optimiser's own updates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

SCHEDULES = ("constant", "cosine")


class ScheduleSettingError(ValueError):
    """A schedule setting no run can use; ``key`` names it."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key} {message}")
        self.key = key


@dataclass(frozen=True)
class LearningRateSchedule:
    """``lr_schedule`` and ``lr_warmup_epochs`` of a configuration (see the module docstring)."""

    schedule: str = "constant"
    warmup_epochs: float = 0.0

    @classmethod
    def from_config(cls, config) -> "LearningRateSchedule":
        """The schedule ``config`` sets (an unset key takes its default); :class:`ScheduleSettingError` for a bad value."""
        schedule = config["lr_schedule"] if config["lr_schedule"] is not None else cls.schedule
        warmup = config["lr_warmup_epochs"] if config["lr_warmup_epochs"] is not None else cls.warmup_epochs
        if schedule not in SCHEDULES:
            raise ScheduleSettingError("lr_schedule", f"must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        if not (isinstance(warmup, (int, float)) and not isinstance(warmup, bool) and math.isfinite(warmup)
                and warmup >= 0):
            raise ScheduleSettingError("lr_warmup_epochs", f"must be a number >= 0, got {warmup!r}")
        return cls(schedule, float(warmup))

    @property
    def active(self) -> bool:
        return self.schedule != "constant" or self.warmup_epochs > 0

    def factor(self, step: int, steps_per_epoch: int, epochs: int) -> float:
        """The multiple of ``learning_rate`` used by optimiser step ``step`` (0-based)."""
        warmup_steps = self.warmup_epochs * steps_per_epoch
        if step < warmup_steps:
            return (step + 1) / math.ceil(warmup_steps)
        if self.schedule == "cosine":
            decay_steps = max(epochs * steps_per_epoch - warmup_steps, 1)
            return 0.5 * (1.0 + math.cos(math.pi * min((step - warmup_steps) / decay_steps, 1.0)))
        return 1.0

    def attach(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int, epochs: int,
               state: dict | None = None) -> torch.optim.lr_scheduler.LambdaLR:
        """A scheduler on ``optimizer`` stepped after each of its steps; ``state`` (a saved
        ``state_dict()``) resumes one where a checkpoint left it."""
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: self.factor(step, max(steps_per_epoch, 1), epochs))
        if state is not None:
            scheduler.load_state_dict(state)
            for group, rate in zip(optimizer.param_groups, scheduler.get_last_lr()):
                group["lr"] = rate
        optimizer.register_step_post_hook(lambda *_: scheduler.step())
        return scheduler
