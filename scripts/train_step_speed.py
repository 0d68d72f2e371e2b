"""Speed of one PoseRec training step: the vectorised loss against a per-window-loop implementation.

Both compute the same loss (``tests/test_poserec_recbole.py`` checks they agree) on the same batches
of the same dataset, with the same model, in one process, one after the other per batch; each step
is forward + backward. Mining is ``pose_threshold`` with all candidates (the deterministic setting the
loop reference covers). Prints seconds per step for both and their ratio.

    .venv/bin/python scripts/train_step_speed.py [--dataset pose-obe] [--data-path dataset] [--batches 3]
"""

import argparse
import statistics
import time

import torch
from recbole.utils import init_seed

from recbole_poserec.config import Config
from recbole_poserec.data.dataloader import data_preparation
from recbole_poserec.data.dataset import create_dataset
from poserec_experiments.loop_reference import loop_losses
from recbole_poserec.model.poserec import PoseRec


def timed_step(model, loss_function, batch) -> float:
    model.zero_grad(set_to_none=True)
    started = time.perf_counter()
    sum(loss_function(batch)).backward()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="pose-obe")
    parser.add_argument("--data-path", default="dataset")
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args()

    config = Config(model="PoseRec", dataset=args.dataset,
                    config_dict={"data_path": args.data_path, "state": "WARNING", "mining_candidates": 0})
    init_seed(config["seed"], True)
    train_data, _, _ = data_preparation(config, create_dataset(config))
    model = PoseRec(config, train_data._dataset)
    model.train()
    vectorised, looped, sizes = [], [], []
    for index, batch in enumerate(train_data):
        if index == args.batches + 1:
            break
        fast = timed_step(model, model.calculate_loss, batch)
        slow = timed_step(model, lambda b: loop_losses(model, b), batch)
        if index == 0:
            continue  # warm-up
        vectorised.append(fast)
        looped.append(slow)
        sizes.append((len(batch), len(torch.unique(batch["window_id"]))))
    fast, slow = statistics.median(vectorised), statistics.median(looped)
    print(f"dataset {args.dataset}: {args.batches} batches of {sizes} (interactions, windows), torch threads {torch.get_num_threads()}")
    print(f"vectorised step: {fast:.3f} s   per-window loop step: {slow:.3f} s   ratio loop/vectorised: {slow / fast:.1f}x")


if __name__ == "__main__":
    main()
