"""Markdown tables (mean ± std, best per column in bold, provenance header) and PNG plots (matplotlib Agg).

Everything here formats numbers that :mod:`poserec_experiments.aggregate` computed from stored
run results; nothing is typed in.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from dataset_conversion.atomic import atomic_save_figure
from poserec_experiments.aggregate import metric_label, ordered_metrics
from poserec_experiments.runner import atomic_write_text

MISSING = "–"


def format_number(value, decimals: int = 1, scale: float = 1.0) -> str:
    """``value * scale`` with ``decimals`` decimals; :data:`MISSING` for None, NaN or infinity (no output
    shows ``nan``)."""
    if value is None or not math.isfinite(value * scale):
        return MISSING
    return f"{value * scale:.{decimals}f}"


def format_mean_std(mean: float, std: float, decimals: int = 4) -> str:
    """``0.1234 ± 0.0056``."""
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def index_rows(rows, row_field: str) -> tuple[list, dict]:
    """Row labels in first-seen order and ``{(label, level, metric): row}``."""
    order, cells = [], {}
    for row in rows:
        label = row[row_field]
        if label not in order:
            order.append(label)
        cells[(label, row["level"], row["metric"])] = row
    return order, cells


def wide_table(rows, row_field: str, groups, metrics=None, decimals: int = 4, first_header: str = "",
               extra_columns=None, row_order=None, reference_rows=None, reference_heading: str = "") -> str:
    """A markdown table: one row per ``row_field`` value, columns ``<group label> <metric label>``.

    ``groups``: ``[(level, label), ...]`` (e.g. ``[("ins", "Ins Rec"), ("cat", "Cat Rec")]``).
    Each cell is ``mean ± std`` (the value alone for one seed); the highest mean of each column is bold (every metric here is
    higher-is-better; ties are all bold). ``extra_columns``: ``[(header, {row label: text}), ...]``
    appended on the right. ``reference_rows``: ``[(label, {(level, metric): value}), ...]`` shown below the
    table's rows after a rule row labelled ``reference_heading`` (e.g. oracles): plain values, never bold,
    not part of the best-per-column comparison.
    """
    order, cells = index_rows(rows, row_field)
    order = [r for r in (row_order or order) if r in order]
    metrics = metrics or ordered_metrics({row["metric"] for row in rows})
    columns = [(level, label, metric) for level, label in groups for metric in metrics
               if any((r, level, metric) in cells for r in order)
               or any((level, metric) in values for _, values in reference_rows or [])]
    best = {}
    for level, _, metric in columns:
        means = [cells[(r, level, metric)]["mean"] for r in order if (r, level, metric) in cells]
        best[(level, metric)] = max(means) if means else None
    header = [first_header] + [f"{label} {metric_label(metric)}" for _, label, metric in columns]
    header += [name for name, _ in (extra_columns or [])]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|"]
    for label in order:
        cells_text = [str(label)]
        for level, _, metric in columns:
            row = cells.get((label, level, metric))
            if row is None:
                cells_text.append(MISSING)
                continue
            text = (f"{row['mean']:.{decimals}f}" if row.get("seeds") == 1
                    else format_mean_std(row["mean"], row["std"], decimals))
            cells_text.append(f"**{text}**" if row["mean"] == best[(level, metric)] else text)
        cells_text += [values.get(label, MISSING) for _, values in (extra_columns or [])]
        lines.append("| " + " | ".join(cells_text) + " |")
    if reference_rows:
        lines.append("| " + " | ".join([f"*{reference_heading}*"] + [""] * (len(header) - 1)) + " |")
        for label, values in reference_rows:
            cells_text = [str(label)] + [format_number(values.get((level, metric)), decimals)
                                         for level, _, metric in columns]
            lines.append("| " + " | ".join(cells_text + [MISSING] * len(extra_columns or [])) + " |")
    return "\n".join(lines) + "\n"


def provenance_lines(meta: dict, name: str) -> list[str]:
    """Markdown bullet lines on a converted dataset, read from its ``<name>.meta.json``."""
    if not meta:
        return [f"- `{name}`: no `{name}.meta.json` found, provenance unknown"]
    synth = meta.get("synthetic_source") or {}
    split = meta.get("split") or {}
    encoder = meta.get("text_encoder") or {}
    counts = meta.get("counts") or {}
    origin = (f"**SYNTHETIC** (generator `{synth.get('generator', 'dataset_conversion.synth')}` "
              f"v{synth.get('generator_version', '?')}, synth seed {synth.get('seed', '?')}) -- "
              "a stand-in shaped like Pose-OBE, not the real data; the figures are not the paper's"
              if meta.get("synthetic") else "not marked synthetic (converted from raw data without SYNTHETIC.json)")
    derived = synth.get("derived")
    if derived and derived.get("from"):
        derived = derived | {"from": Path(derived["from"]).name}  # the raw folder's name, not this machine's path
    derived_text = f"; derived: {derived}" if derived else ""
    return [
        f"- `{name}` ({meta.get('level', '?')} level): {origin}{derived_text}",
        f"  - split: {split.get('protocol', '?')} protocol, ratios {split.get('ratios', '?')}, "
        f"split seed {split.get('seed', '?')}; windows of {meta.get('window', '?')} frames, step {meta.get('step', '?')}",
        f"  - text encoder: {encoder.get('name', '?')} (hidden size {encoder.get('hidden_size', '?')})",
        f"  - counts: {counts.get('windows', '?')} windows, {counts.get('videos', '?')} videos, "
        f"{counts.get('items', '?')} items, {counts.get('interactions', '?')} interactions",
    ]


def format_duration(seconds: float) -> str:
    """``3725.0`` -> ``1 h 02 min 05 s (3725 s)``."""
    seconds = float(seconds)
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"
    return f"{text} ({seconds:.0f} s)"


def write_markdown(path: str | os.PathLike, text: str) -> Path:
    atomic_write_text(Path(path), text)
    return Path(path)


# --------------------------------------------------------------------------------------------- plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """Save a figure atomically (temporary sibling, then rename)."""
    return atomic_save_figure(fig, path, format=Path(path).suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight")


def grouped_bars(path, rows, row_field: str, groups, metrics=None, title: str = "", reference=None) -> Path:
    """One panel per group (level); x = metrics, one bar per row label, error bars = std.

    ``reference``: a row label drawn as a red horizontal line per metric instead of bars (Fig. 4's
    "no factor removed").
    """
    plt = _pyplot()
    order, cells = index_rows(rows, row_field)
    metrics = metrics or ordered_metrics({row["metric"] for row in rows})
    present = [(level, label) for level, label in groups if any(key[1] == level for key in cells)]
    bar_labels = [r for r in order if r != reference]
    width_inches = max(8.0, 1.1 * len(metrics) * max(1, len(bar_labels)) / 3)
    legend_rows = -(-(len(bar_labels) + (reference is not None)) // 3)
    legend_inches = 0.25 * legend_rows + 0.2
    fig, axes = plt.subplots(len(present), 1, figsize=(width_inches, 3.6 * len(present) + legend_inches),
                             squeeze=False)
    width = 0.8 / max(1, len(bar_labels))
    colors = plt.get_cmap("tab20")
    for axis, (level, label) in zip(axes[:, 0], present):
        for j, row_label in enumerate(bar_labels):
            xs, heights, errors = [], [], []
            for m, metric in enumerate(metrics):
                row = cells.get((row_label, level, metric))
                if row is not None:
                    xs.append(m - 0.4 + width * (j + 0.5))
                    heights.append(row["mean"])
                    errors.append(row["std"])
            axis.bar(xs, heights, width, yerr=errors, capsize=2, label=str(row_label), color=colors(j % 20))
        if reference is not None:
            for m, metric in enumerate(metrics):
                row = cells.get((reference, level, metric))
                if row is not None:
                    axis.hlines(row["mean"], m - 0.45, m + 0.45, colors="red", linewidth=2,
                                label=str(reference) if m == 0 else None)
        axis.set_xticks(range(len(metrics)), [metric_label(m) for m in metrics])
        axis.set_title(f"{title} -- {label}" if title else label)
        axis.set_ylabel("mean over seeds (± std)")
        axis.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, ncol=min(3, len(labels)), loc="lower center")
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, 1))
    path = _save(fig, path)
    plt.close(fig)
    return path


def line_plot(path, rows, row_field: str, groups, x_of: dict, series_of: dict, metrics, x_label: str,
              title: str = "") -> Path:
    """One panel per (group, metric); x = ``x_of[row label]``, one line per ``series_of[row label]``."""
    plt = _pyplot()
    order, cells = index_rows(rows, row_field)
    present = [(level, label) for level, label in groups if any(key[1] == level for key in cells)]
    series_names = list(dict.fromkeys(series_of[r] for r in order))
    fig, axes = plt.subplots(len(present), len(metrics), figsize=(3.6 * len(metrics), 3.0 * len(present)),
                             squeeze=False)
    for i, (level, label) in enumerate(present):
        for j, metric in enumerate(metrics):
            axis = axes[i, j]
            for series in series_names:
                points = sorted((x_of[r], cells[(r, level, metric)]) for r in order
                                if series_of[r] == series and (r, level, metric) in cells)
                if points:
                    axis.errorbar([p[0] for p in points], [p[1]["mean"] for p in points],
                                  yerr=[p[1]["std"] for p in points], marker="o", capsize=3, label=series or None)
            axis.set_title(f"{label} {metric_label(metric)}")
            axis.set_xticks(sorted({x_of[r] for r in order}))
            axis.set_xlabel(x_label)
            axis.grid(alpha=0.3)
    if any(series_names):
        axes[0, 0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = _save(fig, path)
    plt.close(fig)
    return path


def timing_bars(path, timing_rows, row_field: str, groups, fields=(("train_seconds", "training (fit) [s]"),
                                                                    ("test_seconds", "test evaluation [s]"))) -> Path:
    """One panel per timing field; bars per row label, one colour per group (level); log scale."""
    plt = _pyplot()
    labels = list(dict.fromkeys(row[row_field] for row in timing_rows))
    present = [(level, label) for level, label in groups if any(row["level"] == level for row in timing_rows)]
    fig, axes = plt.subplots(1, len(fields), figsize=(max(8, 0.7 * len(labels) * len(fields)), 3.6), squeeze=False)
    width = 0.8 / max(1, len(present))
    for axis, (name, axis_label) in zip(axes[0], fields):
        drawn = False
        for g, (level, group_label) in enumerate(present):
            xs, heights, errors = [], [], []
            for k, label in enumerate(labels):
                row = next((r for r in timing_rows if r[row_field] == label and r["level"] == level), None)
                if row is not None and not math.isnan(row[f"{name}_mean"]):
                    xs.append(k - 0.4 + width * (g + 0.5))
                    heights.append(row[f"{name}_mean"])
                    errors.append(row[f"{name}_std"])
            axis.bar(xs, heights, width, yerr=errors, capsize=2, label=group_label)
            drawn = drawn or any(h > 0 for h in heights)
        axis.set_xticks(range(len(labels)), [str(label) for label in labels], rotation=30, ha="right")
        axis.set_ylabel(axis_label)
        if drawn:  # a log axis needs a positive value (stored results without timings have none)
            axis.set_yscale("log")
        axis.grid(axis="y", alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    path = _save(fig, path)
    plt.close(fig)
    return path
