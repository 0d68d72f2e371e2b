"""The scorer a command line names: ``--checkpoint FILE`` or ``--reference-release DIR``."""

from __future__ import annotations

from recbole_poserec.inference.checkpoint_scorer import load_checkpoint_scorer
from recbole_poserec.inference.reference_release import load_reference_release
from recbole_poserec.inference.scorer import WindowScorer


def load_scorer(checkpoint: str | None, reference_release: str | None) -> WindowScorer:
    """A trained checkpoint's scorer if ``checkpoint`` is given, else the authors' release in ``reference_release``."""
    if checkpoint is not None:
        return load_checkpoint_scorer(checkpoint)
    return load_reference_release(reference_release)
