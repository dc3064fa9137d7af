"""Write the package's shipped weights (src/vanilla_gan/assets/pretrained.pt and pretrained.json) from a run.

    vanilla-gan train --recipe best --seed 11 --epochs 300 --threads 2 --out runs/ship   # a run to ship
    vanilla-gan evaluate runs/ship --json > runs/ship-scores.json     # optional: an independent evaluation
    python scripts/make_pretrained.py runs/ship --evaluation runs/ship-scores.json
    python scripts/make_pretrained.py runs/ship --out /tmp/weights     # somewhere else (tests, trials)

CHECKPOINT is a run folder (its checkpoints/last.pt) or a checkpoint file. The weights file holds G's moving
average and D as float16 (vanilla_gan/runs/shipped.py; G's raw weights too with --with-raw, or when the run kept no
average: 5.9 MB for the digits' model, 8.9 MB with raw G); the JSON beside it the provenance: the
command that repeats the run, seed, epochs, training time, the machine this script ran on (run it where the
run was trained), the run's metrics (its last evaluation: c2st_accuracy, FID, precision, recall, ...), the
evaluation given, the file's SHA-256 and the date. `vg.pretrained()` and `--pretrained` check that SHA-256.
Prints the file's size, the SHA-256 and a check that the loader reads it back.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

import torch

import vanilla_gan
from vanilla_gan.cli.options import as_arguments
from vanilla_gan.config import ModelConfig, TrainConfig, from_dict, to_dict
from vanilla_gan.fileio import atomic_write, make_folder
from vanilla_gan.gan.models import build_discriminator, build_generator
from vanilla_gan.runs import shipped
from vanilla_gan.runs.rundir import load_checkpoint, resolve_checkpoint
from vanilla_gan.training.threads import unsteady_layer

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "vanilla_gan" / "assets"
# Options that do not change what a run computes on a CPU, left out of the command that repeats it (the thread
# count does change it for networks other than the classic MLPs: command_of keeps it for those).
NOT_IN_COMMAND = {"minutes", "device", "threads", "cuda_graph", "log_every", "checkpoint_every", "eval_samples",
                  "grid_size"}


def command_of(state: dict[str, Any]) -> str:
    """`vanilla-gan train ...` with the run's seed, epochs and every option that differs from the default."""
    options: dict[str, Any] = {"seed": state["train_config"]["seed"], "epochs": state["epoch"]}
    for defaults, saved in ((TrainConfig(), state["train_config"]), (ModelConfig(), state["model_config"])):
        for key, default in to_dict(defaults).items():
            value = saved.get(key, default)
            if key not in options and key not in NOT_IN_COMMAND and key != "image_shape" and value != default:
                options[key] = value
    model = from_dict(ModelConfig, state["model_config"])
    networks = (build_generator(model), build_discriminator(model))
    if unsteady_layer(networks) and state["train_config"].get("threads"):  # their numbers depend on the count
        options["threads"] = state["train_config"]["threads"]
    return shlex.join(["vanilla-gan", "train", *as_arguments(options)])


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "vanilla_gan": vanilla_gan.__version__}


def run_metrics(state: dict[str, Any]) -> dict[str, Any]:
    """The run's last evaluated epoch's record (FID, precision, recall, c2st_accuracy, ... with real_floor), else
    its last epoch's."""
    records = state.get("metrics") or []
    evaluated = [m for m in records if "fid" in m or "c2st_accuracy" in m]
    return dict(evaluated[-1] if evaluated else records[-1] if records else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a run folder (its checkpoints/last.pt) or a checkpoint file")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder to write {shipped.WEIGHTS_NAME} and {shipped.PROVENANCE_NAME} in "
                             f"(default: {DEFAULT_OUT})")
    parser.add_argument("--evaluation", type=Path,
                        help="the output of `vanilla-gan evaluate RUN --json` to record beside the run's own metrics")
    parser.add_argument("--command", help="the command that trained the run (default: rebuilt from its configs)")
    parser.add_argument("--with-raw", action="store_true",
                        help="also ship G's raw weights (3 MB more for the digits), for `sample --pretrained --raw` "
                             "and `explore --pretrained --with-raw`")
    args = parser.parse_args()

    source = resolve_checkpoint(args.checkpoint)
    state = load_checkpoint(source)
    data = shipped.pack(state, with_raw=args.with_raw)
    run_config_path = (args.checkpoint if args.checkpoint.is_dir() else source.parent.parent) / "config.json"
    run_config = json.loads(run_config_path.read_text()) if run_config_path.is_file() else {}
    provenance = {
        "file": shipped.WEIGHTS_NAME, "sha256": shipped.sha256(data), "bytes": len(data), "dtype": "float16",
        "networks": [key for key in shipped.NETWORKS if state.get(key) is not None and not (
            key == "generator" and not args.with_raw and state.get("generator_ema") is not None)],
        "command": args.command or command_of(state),
        "seed": state["train_config"]["seed"], "epochs": state["epoch"], "steps": state["step"],
        "dataset": state["train_config"]["dataset"], "num_images": state.get("num_images"),
        "training_time_s": round(float(state.get("elapsed", 0.0)), 1),
        "model": state["model_config"], "train": state["train_config"],
        "trained_on": {key: run_config[key] for key in ("device", "world_size", "mkl_cbwr", "threads", "data_sha256")
                       if key in run_config},
        "machine": machine(),  # where this script ran: run it on the machine that trained the run
        "metrics": run_metrics(state),
        "source_checkpoint": {"path": str(source), "sha256": shipped.sha256(source.read_bytes())},
        "package_version": state.get("package_version", vanilla_gan.__version__),
        "date": datetime.date.today().isoformat(),
    }
    if args.evaluation is not None:
        provenance["evaluation"] = json.loads(args.evaluation.read_text())
    make_folder(args.out)
    weights_path = args.out / shipped.WEIGHTS_NAME
    atomic_write(weights_path, data)
    atomic_write(shipped.provenance_path(weights_path), (json.dumps(provenance, indent=2) + "\n").encode())
    weights = shipped.load_weights(weights_path)  # reads back as the package will
    shown = {k: provenance["metrics"][k] for k in ("fid", "precision", "recall", "c2st_accuracy")
             if k in provenance["metrics"]}
    print(f"wrote {weights_path} ({len(data):,} bytes, {', '.join(provenance['networks'])} as float16) and "
          f"{shipped.provenance_path(weights_path).name}\nsha256 {provenance['sha256']}\n"
          f"from {source}: epoch {state['epoch']}, {provenance['command']}\nmetrics {shown or 'none recorded'}\n"
          f"read back: {weights.model_config.shape} images from z of {weights.model_config.latent_dim}")


if __name__ == "__main__":
    try:
        main()
    except vanilla_gan.VanillaGanError as exc:
        sys.exit(f"error: {exc}")
