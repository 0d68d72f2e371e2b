"""Entry point, RecBole-style: ``python run_recbole.py --model=PoseRec --dataset=pose-obe [--key=value ...]``.

``--model`` may name a plug-in model (recbole_poserec/model/) or any RecBole built-in; ``--config_files``
takes space-separated YAML files; any other ``--key=value`` overrides a setting (RecBole parses them).
"""

import argparse
import sys

from recbole_poserec.quick_start import run_recbole


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", "-m", type=str, default="PoseRec", help="model name")
    parser.add_argument("--dataset", "-d", type=str, default="pose-obe", help="dataset name")
    parser.add_argument("--config_files", type=str, default=None, help="space-separated config files")
    args, _ = parser.parse_known_args(argv)  # the rest (--key=value) is read by RecBole's Config
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    run_recbole(model=args.model, dataset=args.dataset, config_file_list=config_files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
