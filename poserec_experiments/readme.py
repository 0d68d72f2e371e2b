"""Keeping the README's result sections in step with ``results/``: they are written by the commands.

A section is the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; the benchmark and
the ablations replace theirs when they write into the repository's ``results/`` directory, so no
figure in the README is typed in by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

from dataset_conversion.atomic import atomic_file

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
RESULTS_DIR = REPO_ROOT / "results"

# Table 1 of the paper (Fan et al., arXiv:2209.08353): the authors' figures on the REAL Pose-OBE,
# quoted for comparison only. Columns R@5, N@5, R@10, N@10, R@20, N@20; None = not reported (the paper's "\").
# NCF is RecBole's NeuMF. The paper's video-feature baselines (C3D, P3D, CSN) need raw frames and
# are not part of this plug-in.
PAPER_TABLE1 = {
    "ins": {
        "Random": (0.0211, 0.0212, 0.0473, 0.0472, 0.0819, 0.0818),
        "Pop": (None, None, None, None, None, None),
        "FM": (0.0497, 0.0518, 0.1139, 0.1209, 0.1806, 0.1931),
        "DeepFM": (0.0194, 0.0226, 0.1014, 0.1126, 0.1807, 0.2007),
        "NeuMF": (0.0396, 0.0412, 0.0748, 0.0799, 0.1759, 0.1963),
        "AFN": (0.0634, 0.0719, 0.0907, 0.0978, 0.1985, 0.2096),
        "FRNet": (0.0303, 0.0386, 0.1083, 0.1125, 0.192, 0.2108),
        "PoseRec": (0.1304, 0.1539, 0.2067, 0.2375, 0.3129, 0.3515),
    },
    "cat": {
        "Random": (0.048, 0.0476, 0.0876, 0.0876, 0.1693, 0.1702),
        "Pop": (0.0762, 0.0531, 0.3753, 0.3862, 0.3876, 0.3952),
        "FM": (0.2688, 0.2874, 0.5423, 0.5999, 0.6985, 0.7289),
        "DeepFM": (0.2365, 0.2595, 0.3507, 0.3803, 0.5331, 0.6041),
        "NeuMF": (0.2366, 0.2596, 0.3451, 0.3689, 0.6025, 0.6734),
        "AFN": (0.064, 0.0665, 0.2949, 0.319, 0.6055, 0.6642),
        "FRNet": (0.0942, 0.1082, 0.3351, 0.3697, 0.6347, 0.699),
        "PoseRec": (0.5355, 0.5904, 0.6444, 0.696, 0.7919, 0.8328),
    },
}
PAPER_COLUMNS = ("R@5", "N@5", "R@10", "N@10", "R@20", "N@20")


def paper_table1_markdown() -> str:
    """The paper's Table 1 (real Pose-OBE) as a markdown table ("—": not reported in the paper)."""
    header = ["model"] + [f"Ins {c}" for c in PAPER_COLUMNS] + [f"Cat {c}" for c in PAPER_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] + [" ---: "] * 12) + "|"]
    for model in PAPER_TABLE1["ins"]:
        values = PAPER_TABLE1["ins"][model] + PAPER_TABLE1["cat"][model]
        lines.append("| " + " | ".join([model] + ["—" if v is None else f"{v:.4f}" for v in values]) + " |")
    return "\n".join(lines) + "\n"


def writes_repository_results(out: Path) -> bool:
    """Whether ``out`` is the repository's own ``results/`` (or a folder in it)."""
    out = Path(out).resolve()
    return out == RESULTS_DIR or RESULTS_DIR in out.parents


def replace_section(name: str, body: str, readme: Path = README) -> None:
    """Replace the text between the ``name`` markers of ``readme`` (atomically). Missing markers: an error."""
    text = readme.read_text(encoding="utf-8")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme}: no '{start}' ... '{end}' section")
    updated = pattern.sub(lambda _: f"{start}\n{body.strip()}\n{end}", text)
    with atomic_file(readme, "w", encoding="utf-8") as handle:
        handle.write(updated)
