"""PoseRec's training step through the plug-in against the bare network, and the dataset load, in one run.

    .venv/bin/python scripts/speed_ratios.py --dataset NAME --data-path DIR [--device cpu|cuda]
        [--windows-per-batch 64 256 1024] [--batches 20] [--threads N] [--json OUT]

For each windows-per-batch W, interleaved batch by batch (alternating which goes first, so both share
whatever load the machine has):

* **bare**: ``PoseRec.calculate_loss`` (its ``PoseRecNetwork`` built from the dataset's item factors and
  ``properties/model/PoseRec.yaml``, as ``run_recbole`` builds it) + backward + Adam step on a batch
  of W windows already on the device: the fields the loss reads, contiguous tensors, made beforehand;
* **plug-in**: the same step on the next batch of ``data_preparation``'s train loader
  (``WindowBatchTrainDataLoader``: the batch's interaction rows, no gathered features since PoseRec
  indexes its device tables, and the video-aware negative sampler), timed from asking the loader for the batch to the end of the optimiser step, the move to
  the device included (RecBole's trainer also reads each loss term with ``.item()``; not counted).

Each is the median seconds per batch over ``--batches`` batches of W windows, after 2 warm-up batches
(an epoch's short last batch is skipped); the ratio is plug-in / bare, of the medians and, less moved
by a load that changes during the run, the median of each interleaved pair's ratio. The dataset load
is the plug-in's ``create_dataset`` with its ``Config``: first with no pose store ("cold": the store files
that :mod:`recbole_poserec.data.pose_store` names for the dataset's ``.user`` and ``.item`` are removed
first; the OS file cache holds the files after any earlier run, so it is process-cold, not disk-cold),
then again ("warm": from the store the first load wrote, unless ``pose_store`` is off), with the seconds
spent loading each atomic file and, of those, parsing its text (RecBole's ``Dataset._load_feat``).
``--json OUT`` writes the same figures (atomically).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
import warnings

import torch
from recbole.data.dataset import Dataset
from recbole.data.interaction import Interaction
from recbole.utils import init_seed

from dataset_conversion.atomic import atomic_file
from dataset_conversion.entrypoint import ArgumentParser, positive_int, run_main
from recbole_poserec.config import Config
from recbole_poserec.data.dataloader import data_preparation
from recbole_poserec.data.dataset import PoseStoreMixin, create_dataset
from recbole_poserec.data.pose_store import STORED_SUFFIXES, remove_store
from recbole_poserec.quick_start import check_dataset
from recbole_poserec.utils import get_model

MODEL = "PoseRec"
WARMUP_BATCHES = 2
BARE_POOL = 4  # distinct pre-built device batches the bare step cycles through
DEFAULT_WINDOWS_PER_BATCH = (64, 256, 1024)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="speed_ratios.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="dataset name (folder under --data-path)")
    parser.add_argument("--data-path", required=True, help="the folder holding <dataset>/")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--windows-per-batch", type=positive_int, nargs="+", default=list(DEFAULT_WINDOWS_PER_BATCH))
    parser.add_argument("--batches", type=positive_int, default=20, help="timed batches per W (after 2 warm-up)")
    parser.add_argument("--threads", type=positive_int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", help="also write the figures to this file")
    return parser


# ------------------------------------------------------------------------------------ dataset load

@contextlib.contextmanager
def timed_method(owner: type, name: str, seconds: dict[str, float]):
    """Add the seconds spent in ``owner.<name>(self, filepath, source)`` per source (inter, user, item)."""
    original = getattr(owner, name)

    def timed(self, filepath, source):
        started = time.perf_counter()
        try:
            return original(self, filepath, source)
        finally:
            key = getattr(source, "value", str(source))
            seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started

    setattr(owner, name, timed)
    try:
        yield seconds
    finally:
        setattr(owner, name, original)


def timed_load(config) -> tuple[Dataset, dict]:
    """One ``create_dataset``: its seconds, each atomic file's load seconds (store or text) and text parse
    seconds (RecBole's ``Dataset._load_feat``)."""
    loaded, parsed = {}, {}
    with timed_method(PoseStoreMixin, "_load_feat", loaded), timed_method(Dataset, "_load_feat", parsed):
        started = time.perf_counter()
        dataset = create_dataset(config)
        seconds = time.perf_counter() - started
    return dataset, {"seconds": seconds, "load_seconds": loaded, "parse_seconds": parsed,
                     "user_load_seconds": loaded.get("user", 0.0), "user_parse_seconds": parsed.get("user", 0.0)}


def remove_pose_store(config) -> list[str]:
    """Delete the pose store of the dataset's ``.user`` and ``.item`` files; returns the files removed."""
    removed = []
    for suffix in STORED_SUFFIXES:
        feature_file = os.path.join(config["data_path"], f"{config['dataset']}.{suffix}")
        removed += remove_store(feature_file, config["field_separator"], config["encoding"])
    return [str(path) for path in removed]


def measure_load(config) -> tuple[Dataset, dict]:
    """Load with no pose store, then again; return the second dataset and the figures."""
    removed = remove_pose_store(config)
    cold_dataset, cold = timed_load(config)
    del cold_dataset
    dataset, warm = timed_load(config)
    return dataset, {"cold": cold, "warm": warm, "warm_over_cold": warm["seconds"] / cold["seconds"],
                     "pose_store": bool(config["pose_store"]), "store_files_removed": removed}


# ------------------------------------------------------------------------------------ training step

def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model, optimizer, batch) -> None:
    optimizer.zero_grad()
    sum(model.calculate_loss(batch)).backward()
    optimizer.step()


def model_and_optimizer(config, train_data):
    init_seed(config["seed"], config["reproducibility"])
    model = get_model(MODEL)(config, train_data._dataset).to(config["device"])
    model.train()
    # what RecBole's Trainer._build_optimizer makes for learner: adam
    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"], weight_decay=config["weight_decay"])
    return model, optimizer


def loss_fields(model) -> list[str]:
    """The Interaction fields ``PoseRec.calculate_loss`` reads (poses and videos come from its device tables)."""
    return [model.USER_ID, model.ITEM_ID, model.NEG_ITEM_ID]


def window_count(batch, window_field: str) -> int:
    return int(torch.unique(batch[window_field]).numel())


def endless(loader):
    """The loader's batches, epoch after epoch (each epoch reshuffles, as in training)."""
    while True:
        yield from loader


def bare_batches(train_data, fields: list[str], window_field: str, full: int, count: int, device) -> list:
    """``count`` full batches of the loader, reduced to ``fields`` as contiguous tensors on ``device``."""
    pool = []
    for batch in endless(train_data):
        if window_count(batch, window_field) == full:
            pool.append(Interaction({field: batch[field].contiguous() for field in fields}).to(device))
            if len(pool) == count:
                return pool


def measure_windows_per_batch(config, dataset, windows: int, batches: int) -> dict:
    """Median seconds per batch of the bare and the plug-in step at ``windows`` windows a batch."""
    device = config["device"]
    config["train_windows_per_batch"] = windows
    started = time.perf_counter()
    train_data, _, _ = data_preparation(config, dataset.copy(dataset.inter_feat))  # build() consumes a dataset
    prepare_seconds = time.perf_counter() - started
    full = min(windows, train_data.sample_size)
    bare_model, bare_optimizer = model_and_optimizer(config, train_data)
    plugin_model, plugin_optimizer = model_and_optimizer(config, train_data)
    window_field = bare_model.USER_ID
    pool_size = min(batches + WARMUP_BATCHES, BARE_POOL)
    pool = bare_batches(train_data, loss_fields(bare_model), window_field, full, pool_size, device)

    def bare(index: int) -> float:
        synchronize(device)
        started = time.perf_counter()
        train_step(bare_model, bare_optimizer, pool[index % len(pool)])
        synchronize(device)
        return time.perf_counter() - started

    loader = endless(train_data)

    def plugin() -> tuple[float, float, int] | None:
        """(step seconds, loader seconds, interactions), or None for an epoch's short last batch."""
        synchronize(device)
        started = time.perf_counter()
        batch = next(loader)
        loaded = time.perf_counter()
        batch = batch.to(device)
        train_step(plugin_model, plugin_optimizer, batch)
        synchronize(device)
        finished = time.perf_counter()
        if window_count(batch, window_field) != full:
            return None
        return finished - started, loaded - started, len(batch)

    bare_times, plugin_times, loader_times, sizes = [], [], [], []
    index = 0
    while len(plugin_times) < WARMUP_BATCHES + batches:
        bare_first = index % 2 == 0
        bare_seconds = bare(index) if bare_first else None
        plugin_result = plugin()
        if not bare_first:
            bare_seconds = bare(index)
        index += 1
        if plugin_result is None:
            continue
        bare_times.append(bare_seconds)
        plugin_times.append(plugin_result[0])
        loader_times.append(plugin_result[1])
        sizes.append(plugin_result[2])
    timed = slice(WARMUP_BATCHES, None)
    bare_median = statistics.median(bare_times[timed])
    plugin_median = statistics.median(plugin_times[timed])
    return {
        "windows_per_batch": windows,
        "windows_in_batch": full,
        "interactions_per_batch": statistics.median(sizes[timed]),
        "bare_seconds": bare_median,
        "plugin_seconds": plugin_median,
        "plugin_loader_seconds": statistics.median(loader_times[timed]),
        "ratio": plugin_median / bare_median,
        "paired_ratio": statistics.median(p / b for p, b in zip(plugin_times[timed], bare_times[timed])),
        "bare_batch_seconds": bare_times[timed],
        "plugin_batch_seconds": plugin_times[timed],
        "train_windows": train_data.sample_size,
        "prepare_seconds": prepare_seconds,
    }


# ------------------------------------------------------------------------------------ report

def step_rows(steps: list[dict]) -> list[str]:
    header = ("W", "rows", "bare s/batch", "plug-in s/batch", "(loader s)", "plug-in/bare", "paired")
    widths = (6, 7, 13, 16, 11, 13, 7)
    rows = [" ".join(f"{name:>{width}}" for name, width in zip(header, widths))]
    for step in steps:
        values = (f"{step['windows_per_batch']}", f"{step['interactions_per_batch']:.0f}",
                  f"{step['bare_seconds']:.4f}", f"{step['plugin_seconds']:.4f}",
                  f"{step['plugin_loader_seconds']:.4f}", f"{step['ratio']:.2f}x", f"{step['paired_ratio']:.2f}x")
        rows.append(" ".join(f"{value:>{width}}" for value, width in zip(values, widths)))
    rows.append("  plug-in/bare: ratio of the medians; paired: median of each batch's plug-in/bare (adjacent in "
                "time, so the least moved by changing load)")
    return rows


def load_line(name: str, run: dict) -> str:
    share = run["user_load_seconds"] / run["seconds"]
    return (f"{name} {run['seconds']:.2f} s (.user {run['user_load_seconds']:.2f} s, {share:.0%}, of which text "
            f"parse {run['user_parse_seconds']:.2f} s)")


def report(figures: dict) -> str:
    load_average = figures["load_average"]
    lines = [f"dataset {figures['dataset']} ({figures['data_path']}), device {figures['device']}, torch threads "
             f"{figures['torch_threads']}, {figures['batches']} timed batches after {figures['warmup_batches']} "
             f"warm-up, load average (1 min) {load_average['start'][0]:.2f} at start, {load_average['end'][0]:.2f} "
             "at end", ""]
    lines += step_rows(figures["steps"])
    load = figures["load"]
    store = "on" if load["pose_store"] else "off"
    lines += ["", f"dataset load (create_dataset, pose store {store}): {load_line('cold', load['cold'])}, "
                  f"{load_line('warm', load['warm'])}, warm/cold {load['warm_over_cold']:.2f}",
              "  cold = first load with no pose store (its files removed first), warm = second load (from the store "
              "the first wrote); the OS file cache holds the files after any earlier run (process-cold, not disk-cold)"]
    return "\n".join(lines)


def write_json(path: str, figures: dict) -> None:
    with atomic_file(path, "w", encoding="utf-8") as handle:
        json.dump(figures, handle, indent=2)
        handle.write("\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("argument --device: cuda was asked for but torch sees no CUDA device")
    if args.threads:
        torch.set_num_threads(args.threads)
    # RecBole 1.2.1's chained fillna(inplace=True) warns on every load under pandas 2.2
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"recbole\.")
    load_start = os.getloadavg()
    config = Config(model=MODEL, dataset=args.dataset,
                    config_dict={"data_path": args.data_path, "state": "WARNING",
                                 "gpu_id": "0" if args.device == "cuda" else ""},
                    command_line=[])
    check_dataset(config)
    dataset, load = measure_load(config)
    steps = [measure_windows_per_batch(config, dataset, windows, args.batches) for windows in args.windows_per_batch]
    figures = {
        "dataset": args.dataset, "data_path": os.path.abspath(args.data_path), "device": str(config["device"]),
        "torch_threads": torch.get_num_threads(), "batches": args.batches, "warmup_batches": WARMUP_BATCHES,
        "load_average": {"start": list(load_start), "end": list(os.getloadavg())},
        "steps": steps, "load": load,
    }
    print(report(figures))
    if args.json:
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
