"""Command line: ``python -m dataset_conversion {synth,convert,extract-poses,embed} ...``.

* ``synth --raw RAW [--seed 0] [--videos 212] [--items 1087] [--generator-version 2] [--force]`` -- a synthetic
  raw dataset (generator v2 by default; ``--generator-version 1`` reproduces v1).
* ``convert --raw RAW --out DIR --name NAME [--level instance|category|both] ...`` -- RecBole atomic
  files in ``DIR/NAME`` (``both``: also ``DIR/NAME-cat`` at the category level, sharing the work).
* ``extract-poses --videos DIR --raw RAW [--workers N]`` -- MediaPipe BlazePose poses.
* ``embed --raw RAW --out FILE [--text-encoder MODEL]`` -- every factor text of ``RAW/items.csv`` and its
  embedding, with the model it came from, in one embedding-cache file (:mod:`.embedding_cache`);
  ``convert --embedding-cache FILE`` then takes the embeddings from it, on a machine without the model.

A command only ever replaces what it created itself: ``convert`` replaces ``DIR/NAME`` only if it is empty
or an earlier conversion of ``NAME`` (it holds ``NAME.meta.json``); ``synth`` replaces ``RAW`` only if it is
empty or an earlier synth output (``SYNTHETIC.json``), or with ``--force``; ``embed`` replaces ``FILE``
only if it is an embedding-cache file. A dataset name is a single directory name (:mod:`.dataset_names`).
Outputs are written to ``.<name>.tmp-<pid>-*`` and renamed into place; temporaries left by a killed run are
removed by the next run (:mod:`.atomic`).

Exit codes (:mod:`.entrypoint`), each with at most one line on stderr and no traceback:

* 0 -- done.
* 1 -- ``extract-poses`` finished but some videos failed (each named on stderr).
* 2 -- bad usage (``error: argument --X: ...`` saying what is allowed) or bad input data / an output that
  may not be written (``error: <file>[, row R][, field F]: ...``); nothing is written.
* 130 -- interrupted (Ctrl-C, ``interrupted``); 143 -- SIGTERM (``terminated``). No temporary is left
  behind and an earlier output stays as it was.
"""

from __future__ import annotations

from .entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the other imports: a signal during them is one line too

import sys
import time

from .cold_items import cold_fraction_argument
from .dataset_names import category_dataset_name, dataset_name_type
from .entrypoint import (
    EXIT_OK, EXIT_PARTIAL_FAILURE, ArgumentParser, int_at_least, non_negative_int, path_argument, positive_int,
    run_main,
)
from .errors import DataError
from .layout import DEFAULT_STEP, DEFAULT_WINDOW
from .synth.generate import (
    DEFAULT_GENERATOR_VERSION, GENERATOR_VERSIONS, MAX_ITEMS, MAX_VIDEOS, SizeError, check_sizes,
)
from .synth.plan import MIN_FRAMES

SYNTH_ARGUMENTS = {  # generator parameter -> option
    "n_videos": "--videos", "n_items": "--items", "seed": "--seed", "generator_version": "--generator-version",
}  # generator parameter -> option


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m dataset_conversion", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="generate a synthetic raw Pose-OBE-like dataset")
    synth.add_argument("--raw", required=True, type=path_argument,
                       help="raw dataset directory to create (an earlier synth output there is replaced)")
    synth.add_argument("--seed", type=non_negative_int, default=0, help="generator seed, >= 0 (default 0)")
    synth.add_argument("--videos", type=int_at_least(1, MAX_VIDEOS), default=212,
                       help=f"number of videos, 1..{MAX_VIDEOS} (default 212, as Pose-OBE)")
    synth.add_argument("--items", type=int_at_least(1, MAX_ITEMS), default=1087,
                       help=f"number of items, up to {MAX_ITEMS}; at least 41 once every subcategory occurs "
                       "(default 1087, as Pose-OBE)")
    synth.add_argument("--window", type=int_at_least(1, MIN_FRAMES - 1), default=DEFAULT_WINDOW,
                       help=f"window length for the reported window count, 1..{MIN_FRAMES - 1} (videos have "
                       f"at least {MIN_FRAMES} frames, so each has a window)")
    synth.add_argument("--step", type=positive_int, default=DEFAULT_STEP)
    synth.add_argument("--generator-version", type=int, choices=sorted(GENERATOR_VERSIONS),
                       default=DEFAULT_GENERATOR_VERSION,
                       help=f"generator version (default {DEFAULT_GENERATOR_VERSION}; 1 reproduces v1's files)")
    synth.add_argument("--force", action="store_true",
                       help="replace RAW even if it holds files that are not an earlier synth output")

    convert = commands.add_parser("convert", help="raw dataset -> RecBole atomic files")
    convert.add_argument("--raw", required=True, type=path_argument, help="raw dataset directory")
    convert.add_argument("--out", required=True, type=path_argument, help="parent directory of the dataset directory")
    convert.add_argument("--name", required=True, type=dataset_name_type,
                         help="dataset name (directory and file prefix): one directory name")
    convert.add_argument("--level", choices=("instance", "category", "both"), default="instance")
    convert.add_argument("--cat-name", type=dataset_name_type,
                         help="with --level both: category dataset name (default NAME-cat)")
    convert.add_argument("--window", type=positive_int, default=DEFAULT_WINDOW)
    convert.add_argument("--step", type=positive_int, default=DEFAULT_STEP)
    convert.add_argument("--seed", type=non_negative_int, default=2022, help="split seed, >= 0")
    convert.add_argument("--text-encoder", default=None, help="local dir or cached hub name of a BERT-family model")
    convert.add_argument("--cache-dir", type=path_argument, default=None, help="text-embedding cache directory")
    convert.add_argument("--pca-dim", type=positive_int, default=32)
    convert.add_argument("--split-protocol", choices=("video", "window"), default="video")
    convert.add_argument("--embedding-cache", type=path_argument, default=None, metavar="FILE",
                         help="take every factor embedding from this file (written by embed): no model runs, "
                         "transformers and torch need not be installed")
    convert.add_argument("--cold-items", type=cold_fraction_argument, default=0.0, metavar="FRACTION",
                         help="cold-item protocol: this share (in [0, 1)) of the items with a test positive gets no "
                         "train or valid row; their test rows also go to NAME.test_cold.inter (seeded by --seed; "
                         "default 0: no protocol)")
    convert.add_argument("--quiet", action="store_true", help="no progress bars")

    embed = commands.add_parser("embed", help="factor texts of RAW/items.csv -> an embedding-cache file")
    embed.add_argument("--raw", required=True, type=path_argument, help="raw dataset directory (reads items.csv)")
    embed.add_argument("--out", required=True, type=path_argument, metavar="FILE",
                       help="embedding-cache file to write (.npz; an earlier embedding-cache file there is replaced)")
    embed.add_argument("--text-encoder", default=None, help="local dir or cached hub name of a BERT-family model")
    embed.add_argument("--cache-dir", type=path_argument, default=None, help="text-embedding cache directory")
    embed.add_argument("--quiet", action="store_true", help="no progress bars")

    extract = commands.add_parser("extract-poses", help="MediaPipe BlazePose over a folder of videos")
    extract.add_argument("--videos", required=True, type=path_argument, help="folder of videos")
    extract.add_argument("--raw", required=True, type=path_argument, help="raw dataset directory (writes RAW/poses/)")
    extract.add_argument("--workers", type=positive_int, default=None,
                         help="processes (default: all cores); with --ray alone, the local Ray instance's CPUs")
    from .ray_extraction import ray_address  # ray itself is imported only when --ray is used

    extract.add_argument("--ray", nargs="?", const="local", default=None, type=ray_address, metavar="ADDRESS",
                         help="one Ray task per video: on a local Ray instance started for the run, or on the "
                         "cluster at ADDRESS (HOST:PORT of `ray start --head`, ray://HOST:PORT or auto); the "
                         "videos must be at the same path on every node, RAW is written by this process only")
    extract.add_argument("--quiet", action="store_true", help="no progress bar")
    for command_parser in (synth, convert, extract, embed):  # usage errors after parsing name the command's --help
        command_parser.set_defaults(command_parser=command_parser)
    return parser


def check_synth_arguments(args) -> None:
    """Sizes the generator cannot produce are usage errors, found before anything is generated."""
    try:
        check_sizes(args.seed, args.videos, args.items, args.generator_version)
    except SizeError as err:
        args.command_parser.error(f"argument {SYNTH_ARGUMENTS.get(err.argument, err.argument)}: {err}")


def check_convert_arguments(args) -> None:
    parser = args.command_parser
    if args.level == "both":
        try:
            args.cat_name = category_dataset_name(args.name, args.cat_name, "--cat-name")
        except DataError as err:
            parser.error(f"argument --cat-name: {err.message}")
    elif args.cat_name is not None:
        parser.error("argument --cat-name: only used with --level both")
    if args.embedding_cache is not None and args.cache_dir is not None:
        parser.error("argument --cache-dir: not used with --embedding-cache (no model runs)")
    if args.out.exists() and not args.out.is_dir():
        raise DataError("--out", f"{args.out} exists and is not a directory; expected the dataset's parent directory")


def run_synth(args) -> int:
    from .synth import generate_raw_dataset

    summary = generate_raw_dataset(
        args.raw, seed=args.seed, n_videos=args.videos, n_items=args.items, window=args.window, step=args.step,
        force=args.force, generator_version=args.generator_version,
    )
    print(f"wrote {args.raw}: {summary}")
    return EXIT_OK


def run_convert(args) -> int:
    from .atomic import check_replaceable
    from .convert import convert_both_levels, convert_raw_dataset
    from .dataset_names import written_by_convert

    names = (args.name, args.cat_name) if args.level == "both" else (args.name,)
    for name in names:  # fail before the (long) conversion, not only when writing
        check_replaceable(args.out / name, written_by_convert(name))
    options = dict(
        window=args.window,
        step=args.step,
        seed=args.seed,
        text_encoder=args.text_encoder,
        pca_dim=args.pca_dim,
        split_protocol=args.split_protocol,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
        embedding_cache=args.embedding_cache,
        cold_items=args.cold_items,
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
    return EXIT_OK


def run_embed(args) -> int:
    from .embedding_cache import embed_raw_items

    n_texts, model = embed_raw_items(args.raw, args.out, args.text_encoder, args.cache_dir, progress=not args.quiet)
    print(f"wrote {args.out}: {n_texts} texts embedded with {model['name']}")
    return EXIT_OK


def run_extract(args) -> int:
    if args.ray is None:
        from .pose_extraction import extract_directory

        report = extract_directory(args.videos, args.raw, workers=args.workers, progress=not args.quiet)
    else:
        from .ray_extraction import extract_directory_ray

        if args.ray != "local" and args.workers is not None:
            args.command_parser.error("argument --workers: not used with --ray ADDRESS (the cluster's CPUs are)")
        address = None if args.ray == "local" else args.ray
        report = extract_directory_ray(args.videos, args.raw, address=address, num_cpus=args.workers,
                                       progress=not args.quiet)
    print(
        f"poses written: {len(report.written)}, skipped (already done): {len(report.skipped)}, "
        f"failed: {len(report.failed)}"
    )
    if report.failed:
        print(f"failed videos: {', '.join(sorted(report.failed))}", file=sys.stderr)
        return EXIT_PARTIAL_FAILURE
    return EXIT_OK


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "synth":
        check_synth_arguments(args)
    elif args.command == "convert":
        check_convert_arguments(args)
    handlers = {"synth": run_synth, "convert": run_convert, "extract-poses": run_extract, "embed": run_embed}
    try:
        return handlers[args.command](args)
    except OSError as err:  # the file system said no (permissions, a full disk): one line, like bad input
        raise DataError(err.filename or args.command, err.strerror or str(err)) from None


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (see the module docstring)."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
