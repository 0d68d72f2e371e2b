"""t-SNE of the item embeddings coloured by each item's dominant prototype (the paper's Fig. 1b).

Usage::

    python -m recbole_poserec.plot_items (--checkpoint FILE | --reference-release DIR) --out OUT.png
                                         [--embedding matrix|chunks] [--annotate 12] [--seed 0]

What is embedded (``--embedding``):

* ``matrix`` (default): the rows of the item matrix M of Eq. 7, [omega_ik e_i^(k)/|e_i^(k)|]_k --
  the item as the scorer sees it (y = e_v M^T), so items close here get similar scores for any video;
* ``chunks``: the K normalized chunks e_i^(k)/|e_i^(k)| concatenated, without the prototype weights.

The colour is the dominant prototype, argmax_k omega_ik (Eq. 6). t-SNE is scikit-learn's with a fixed
seed, PCA initialisation and one thread (perplexity min(30, (n - 1) / 3)), so a plot is reproducible. For a
checkpoint RecBole's padding item is left out. A few names are written beside their points: for each
prototype in turn, its most confident item (largest omega) whose name is not shown yet.

Errors: one ``error: ...`` line on stderr and exit code 2 for bad usage (``--annotate`` below 0,
``--seed`` outside 0..2**32-1) or bad input (see :mod:`recbole_poserec.recommend`: a malformed release
or checkpoint, NaN/inf weights, item embeddings that are not finite, fewer than 2 distinct item
embeddings (nothing to lay out), an ``--out`` that cannot be written); 130 on Ctrl-C, 143 on SIGTERM. The PNG is written through a temporary file and a rename.
"""

from __future__ import annotations

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

from dataset_conversion.atomic import atomic_save_figure
from dataset_conversion.entrypoint import ArgumentParser, int_at_least, non_negative_int, path_argument
from dataset_conversion.errors import DataError
from recbole_poserec.command_line import run_command
from recbole_poserec.inference.loader import load_scorer
from recbole_poserec.model.scoring import item_score_matrix

EMBEDDINGS = ("matrix", "chunks")
DEFAULT_ANNOTATIONS = 12


def item_embeddings(item_chunks: torch.Tensor, omega: torch.Tensor, kind: str = "matrix") -> np.ndarray:
    """(n, K*d) vectors to embed: M's rows (omega-weighted chunks) or the plain normalized chunks."""
    if kind == "matrix":
        return item_score_matrix(item_chunks, omega).numpy()
    if kind != "chunks":
        raise ValueError(f"embedding must be one of {EMBEDDINGS}, got {kind!r}")
    return item_chunks.reshape(len(item_chunks), -1).numpy()


MIN_DISTINCT_ITEMS = 2  # a map of fewer distinct item vectors has no layout (t-SNE and PCA are undefined)


def distinct_vectors(vectors: np.ndarray) -> int:
    """How many different rows ``vectors`` has."""
    return len(np.unique(vectors, axis=0))


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """The first two principal components of ``vectors`` (zero where there are fewer), by numpy's SVD;
    each component's sign fixed so that its largest loading is positive."""
    centered = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    components = components[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    points = centered @ (components * signs[:, None]).T
    return np.pad(points, ((0, 0), (0, 2 - points.shape[1])))


def tsne_2d(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE of ``vectors`` (fixed seed, PCA init); fewer than 4 items are placed by PCA alone.

    ``vectors`` must hold at least :data:`MIN_DISTINCT_ITEMS` distinct rows (identical points make
    t-SNE's PCA initialisation divide by zero, and its Barnes-Hut step crash). Runs on one thread:
    identical output whatever the machine, and no OpenMP spinning on a busy host (on a loaded 2-core
    machine that was 6x slower than one thread).
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    if distinct_vectors(vectors) < MIN_DISTINCT_ITEMS:
        raise ValueError(f"t-SNE needs at least {MIN_DISTINCT_ITEMS} distinct vectors")
    if len(vectors) < 4:
        return pca_2d(vectors)
    perplexity = min(30.0, (len(vectors) - 1) / 3)
    with threadpool_limits(limits=1):
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(vectors)


def items_to_annotate(names: list[str], omega: np.ndarray, count: int) -> list[int]:
    """Up to ``count`` items, taking prototypes in turn and each one's most confident unshown name."""
    dominant = omega.argmax(axis=1)
    queues = [list(np.flatnonzero(dominant == k)[np.argsort(-omega[dominant == k, k], kind="stable")])
              for k in range(omega.shape[1])]
    chosen, shown_names = [], set()
    while len(chosen) < count and any(queues):
        for queue in queues:
            while queue and names[queue[0]] in shown_names:
                queue.pop(0)
            if queue and len(chosen) < count:
                item = int(queue.pop(0))
                chosen.append(item)
                shown_names.add(names[item])
    return chosen


def plot_item_map(points: np.ndarray, omega: np.ndarray, names: list[str], out: str | os.PathLike,
                  title: str, annotate: int = DEFAULT_ANNOTATIONS) -> Path:
    """Scatter the 2-D ``points`` coloured by dominant prototype, with a few names; write a PNG atomically."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    dominant = omega.argmax(axis=1)
    palette = colormaps["tab10"]
    figure = Figure(figsize=(7.5, 6.2), layout="constrained")
    axes = figure.add_subplot()
    for k in range(omega.shape[1]):
        members = dominant == k
        axes.scatter(points[members, 0], points[members, 1], s=22, color=palette(k % 10), alpha=0.85,
                     linewidths=0, label=f"prototype {k + 1} ({int(members.sum())} items)")
    for item in items_to_annotate(names, omega, annotate):
        axes.annotate(names[item], points[item], xytext=(4, 4), textcoords="offset points", fontsize=8,
                      color="#222222")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_xlabel("t-SNE 1")
    axes.set_ylabel("t-SNE 2")
    axes.legend(fontsize=8, loc="best", title="dominant prototype (argmax omega)", title_fontsize=8)
    axes.set_title(title, fontsize=10)
    return atomic_save_figure(figure, out, format="png", dpi=130)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m recbole_poserec.plot_items",
                                     description="t-SNE of item embeddings coloured by dominant prototype (Fig. 1b).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a PoseRec checkpoint written by run_recbole.py")
    source.add_argument("--reference-release", metavar="DIR", help="the authors' release directory")
    parser.add_argument("--out", required=True, type=path_argument, metavar="OUT.png", help="PNG to write")
    parser.add_argument("--embedding", choices=EMBEDDINGS, default="matrix",
                        help="matrix: omega-weighted chunks, the rows of Eq. 7's M (default); chunks: unweighted")
    parser.add_argument("--annotate", type=non_negative_int, default=DEFAULT_ANNOTATIONS, help="item names to write (default 12)")
    parser.add_argument("--seed", type=int_at_least(0, 2**32 - 1), default=0, help="t-SNE random state (default 0)")
    return parser


def run(args: argparse.Namespace) -> Path:
    model = load_scorer(args.checkpoint, args.reference_release)
    item_chunks, omega = (tensor.detach() for tensor in model.item_representations())
    vectors = item_embeddings(item_chunks, omega, args.embedding)
    omega = omega.numpy()
    if not (np.isfinite(vectors).all() and np.isfinite(omega).all()):
        raise DataError(model.source, "item embeddings are not finite (NaN or inf): nothing to plot")
    distinct = distinct_vectors(vectors)
    if distinct < MIN_DISTINCT_ITEMS:
        raise DataError(model.source, f"{distinct} distinct {args.embedding} embedding(s) among {len(vectors)} "
                                      f"items; a map needs at least {MIN_DISTINCT_ITEMS} distinct items")
    points = tsne_2d(vectors, seed=args.seed)
    title = f"{len(omega)} items, t-SNE of {args.embedding} embeddings ({model.source})"
    try:
        return plot_item_map(points, omega, model.item_names, args.out, title, args.annotate)
    except OSError as err:
        raise DataError(args.out, f"cannot write the plot ({err.strerror or type(err).__name__})") from None


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (0 ok, 2 bad usage or input, 130/143 interrupted)."""
    return run_command(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
