"""PoseRec training throughput with 1 and 2 DDP processes (gloo on the CPU), in one run.

``OMP_NUM_THREADS=1 .venv/bin/python scripts/ddp_throughput.py --data-path dataset --dataset pose-obe-step20
[--epochs 1]``

Trains PoseRec ``--epochs`` epochs on the dataset through ``recbole_poserec.quick_start.run`` with
``nproc`` 1, then 2 (RecBole's DDP path), and prints each run's training-loop time, the training windows per
second, the test NDCG@10 and the ratio of the two loop times.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

from recbole_poserec.config import PROPERTIES_DIR
from recbole_poserec.distributed import Launch
from recbole_poserec.quick_start import run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-path", default="dataset")
    parser.add_argument("--dataset", default="pose-obe-step20")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    dataset_yaml = str(Path(PROPERTIES_DIR) / "dataset" / "pose-obe.yaml")
    loop = {}
    with tempfile.TemporaryDirectory(prefix="ddp-throughput-") as scratch:
        for nproc in (1, 2):
            settings = {"data_path": str(Path(args.data_path).resolve()), "checkpoint_dir": f"{scratch}/n{nproc}",
                        "state": "WARNING", "epochs": args.epochs, "eval_protocols": ["window"]}
            result = run(model="PoseRec", dataset=args.dataset, config_file_list=[dataset_yaml], config_dict=settings,
                         command_line=[], launch=Launch(nproc=nproc, port=free_port()))
            timing = result["timing"]
            loop[nproc] = timing["train_loop_seconds"]
            print(f"nproc {nproc}: {timing['train_epochs']} epochs, {timing['train_batches']} steps, training loop "
                  f"{loop[nproc]:.1f} s, test ndcg@10 {result['test_result']['ndcg@10']}", flush=True)
    print(f"speed-up (1-process loop time / 2-process loop time): {loop[1] / loop[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
