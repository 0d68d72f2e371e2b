"""Command line: ``python -m dataset_conversion {synth,convert,extract-poses} ...``.

* ``synth --raw RAW [--seed 0] [--videos 212] [--items 1087]`` -- a synthetic raw dataset.
* ``convert --raw RAW --out DIR --name NAME [--level instance|category|both] ...`` -- RecBole atomic
  files in ``DIR/NAME`` (``both``: also ``DIR/NAME-cat`` at the category level, sharing the work).
* ``extract-poses --videos DIR --raw RAW [--workers N]`` -- MediaPipe BlazePose poses.

Bad input ends the command with exit code 2 and exactly one line on stderr (no traceback).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import DataError
from .layout import DEFAULT_STEP, DEFAULT_WINDOW

EXIT_DATA_ERROR = 2
EXIT_PARTIAL_FAILURE = 1


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dataset_conversion", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="generate a synthetic raw Pose-OBE-like dataset")
    synth.add_argument("--raw", required=True, type=Path, help="raw dataset directory to create (replaced if present)")
    synth.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    synth.add_argument("--videos", type=_positive_int, default=212, help="number of videos (default 212, as Pose-OBE)")
    synth.add_argument("--items", type=_positive_int, default=1087, help="number of items (default 1087, as Pose-OBE)")
    synth.add_argument("--window", type=_positive_int, default=DEFAULT_WINDOW)
    synth.add_argument("--step", type=_positive_int, default=DEFAULT_STEP)

    convert = commands.add_parser("convert", help="raw dataset -> RecBole atomic files")
    convert.add_argument("--raw", required=True, type=Path, help="raw dataset directory")
    convert.add_argument("--out", required=True, type=Path, help="parent directory of the dataset directory")
    convert.add_argument("--name", required=True, help="dataset name (directory and file prefix)")
    convert.add_argument("--level", choices=("instance", "category", "both"), default="instance")
    convert.add_argument("--cat-name", help="with --level both: category dataset name (default NAME-cat)")
    convert.add_argument("--window", type=_positive_int, default=DEFAULT_WINDOW)
    convert.add_argument("--step", type=_positive_int, default=DEFAULT_STEP)
    convert.add_argument("--seed", type=int, default=2022, help="split seed")
    convert.add_argument("--text-encoder", default=None, help="local dir or cached hub name of a BERT-family model")
    convert.add_argument("--cache-dir", type=Path, default=None, help="text-embedding cache directory")
    convert.add_argument("--pca-dim", type=_positive_int, default=32)
    convert.add_argument("--split-protocol", choices=("video", "window"), default="video")
    convert.add_argument("--quiet", action="store_true", help="no progress bars")

    extract = commands.add_parser("extract-poses", help="MediaPipe BlazePose over a folder of videos")
    extract.add_argument("--videos", required=True, type=Path, help="folder of videos")
    extract.add_argument("--raw", required=True, type=Path, help="raw dataset directory (writes RAW/poses/)")
    extract.add_argument("--workers", type=_positive_int, default=None, help="processes (default: all cores)")
    extract.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run_synth(args) -> int:
    from .synth import generate_raw_dataset

    summary = generate_raw_dataset(
        args.raw, seed=args.seed, n_videos=args.videos, n_items=args.items, window=args.window, step=args.step
    )
    print(f"wrote {args.raw}: {summary}")
    return 0


def run_convert(args) -> int:
    from .convert import convert_both_levels, convert_raw_dataset

    options = dict(
        window=args.window,
        step=args.step,
        seed=args.seed,
        text_encoder=args.text_encoder,
        pca_dim=args.pca_dim,
        split_protocol=args.split_protocol,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
    )
    start = time.perf_counter()
    if args.level == "both":
        paths = convert_both_levels(args.raw, args.out, args.name, args.cat_name, **options)
    else:
        paths = (convert_raw_dataset(args.raw, args.out, args.name, args.level, **options),)
    elapsed = time.perf_counter() - start
    for path in paths:
        print(f"wrote {path}")
    print(f"conversion took {elapsed:.1f} s")
    return 0


def run_extract(args) -> int:
    from .pose_extraction import extract_directory

    report = extract_directory(args.videos, args.raw, workers=args.workers, progress=not args.quiet)
    print(
        f"poses written: {len(report.written)}, skipped (already done): {len(report.skipped)}, "
        f"failed: {len(report.failed)}"
    )
    if report.failed:
        print(f"failed videos: {', '.join(sorted(report.failed))}", file=sys.stderr)
        return EXIT_PARTIAL_FAILURE
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"synth": run_synth, "convert": run_convert, "extract-poses": run_extract}
    try:
        return handlers[args.command](args)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_DATA_ERROR


if __name__ == "__main__":
    sys.exit(main())
