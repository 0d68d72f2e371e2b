"""The changes the validation search (:mod:`poserec_experiments.tune`) tries, in one place: the authors' code's
variants and the improvements beyond the paper (issue 16), each a PoseRec.yaml key (or the plug-in's
``pose_normalisation``, which every model reading poses is offered). The ``improvements`` ablation study
(:mod:`poserec_experiments.studies`) leaves the tuned profile's ones out in turn. Also where a model's tuned
profile (the overrides the search chose) is kept and how it is read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from recbole_poserec.property_files import PROPERTIES_DIR


@dataclass(frozen=True)
class Candidate:
    """One change to the paper's settings; candidates of the same ``group`` replace one another."""

    name: str
    group: str
    config: dict


# The changes searched (issue 16): the authors' code's variants and the improvements beyond the paper, each a
# PoseRec.yaml key (or the plug-in's pose_normalisation, which every model reading poses is offered). A candidate's
# setting wins over the search budget's (the learning rate, say), as a tuned profile's wins in the benchmark.
CANDIDATES = (
    Candidate("authors triplet", "triplet", {"triplet_hinge": False, "triplet_margin": 2.0}),
    Candidate("no L_triple", "triplet", {"triplet_weight": 0.0}),
    Candidate("authors mining", "mining", {"mining": "authors"}),
    Candidate("hip_torso", "normalisation", {"pose_normalisation": "hip_torso"}),
    Candidate("hip_torso_yaw", "normalisation", {"pose_normalisation": "hip_torso_yaw"}),
    Candidate("softmax s10", "label", {"label_loss": "softmax", "score_scale": 10.0}),
    Candidate("bce s5 learned", "label", {"score_scale": 5.0, "learn_score_scale": True}),
    Candidate("known negatives", "negatives", {"known_negatives": True, "train_nonpositive_as_negatives": True}),
    Candidate("augment", "augmentation", {"augment_rotation": 15.0, "augment_scale": 0.1, "augment_time_shift": 1}),
    Candidate("weight decay 1e-3", "regularisation", {"weight_decay": 0.001}),
    Candidate("dropout 0.3", "regularisation", {"dropout": 0.3}),
    Candidate("32 windows a batch", "batch", {"train_windows_per_batch": 32}),
    Candidate("128 windows a batch", "batch", {"train_windows_per_batch": 128}),
    Candidate("lr 3e-4", "learning rate", {"learning_rate": 0.0003}),
    Candidate("cosine lr, 2 warm-up epochs", "lr schedule", {"lr_schedule": "cosine", "lr_warmup_epochs": 2}),
    # An epoch of 16 batches (half a pass of the step-20 data): validation, early stopping and the budget's epochs
    # count 16 batches, so a peak inside the first pass can be found and kept.
    Candidate("16 batches an epoch", "epoch length", {"train_batches_per_epoch": 16}),
    Candidate("text item bias", "item bias", {"item_bias": "text"}),
    Candidate("free item bias", "item bias", {"item_bias": "item"}),
    Candidate("popularity item bias", "item bias", {"item_bias": "item", "item_bias_init": "popularity"}),
)
POSE_CANDIDATES = tuple(c for c in CANDIDATES if c.group == "normalisation")
# PoseRec's search may pick its checkpoint inside a pass (16 batches an epoch); a baseline whose benchmark budget
# validates once, after its last epoch, is offered the choice of its best epoch instead (its RecBole loader makes
# an epoch one pass).
EPOCH_VALIDATION = Candidate("validate every epoch", "validation", {"eval_step": 1})


def profile_path(model: str) -> Path:
    """``properties/model/<model>-tuned.yaml``: the overrides the search chose for ``model``."""
    return Path(PROPERTIES_DIR, "model", f"{model}-tuned.yaml")


def profile_overrides(path: Path) -> dict:
    """A tuned profile's settings ({} when the file is absent or empty)."""
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
