"""`vanilla-gan sweep`: every configuration x seed trained as an ordinary run folder, then summarised.

    vanilla-gan sweep --seeds 1-5 --set batch_size=8,32 --set betas=0.5,0.999:0.9,0.999 --epochs 10 --out S
    vanilla-gan sweep --out S --resume        # after Ctrl-C: finished runs stay as they are, the others continue

The sweep folder:
    S/sweep.json                      the plan: the options every run shares, the configurations, the seeds
    S/<configuration>/seed_<N>/       one run folder each (`vanilla-gan train ... --seed N --out` it)
    S/logs/<configuration>_seed_<N>.log   what a run printed, when runs go side by side (--jobs > 1)
    S/summary.csv, S/runs.csv, S/summary.html   written when every run has ended (report/sweep_summary.py)

Each run is `python -m vanilla_gan train` in a child process: the same program, options and seed as training
it alone, so a sweep's run is bit-identical to `vanilla-gan train` with its configuration and seed on the
same machine. `--jobs N` trains N runs at once with the CPU's threads split between them; under torchrun every
process takes its own share of the runs (no gradients are exchanged: the runs are independent) and rank 0
writes the summary when all are done. Runs are not yet batched into one model (stacked weights): measured by
benchmarks/batched.py it would be faster, 1.3-1.6x for 2-8 runs at batch 8 on a 2-core CPU (README, "Sweeps").
"""

from __future__ import annotations

import argparse
import ctypes
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch.distributed as dist

from vanilla_gan.api import MODEL_OPTIONS, RECIPES, TRAIN_OPTIONS
from vanilla_gan.checkpoint import epoch_of
from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.errors import Interrupted, UsageError, VanillaGanError
from vanilla_gan.fileio import atomic_write, make_folder
from vanilla_gan.options import SWITCHES, as_arguments, train_options
from vanilla_gan.report.sweep_summary import write_summary
from vanilla_gan.rundir import RunDir
from vanilla_gan.runtime import StopFlag

PLAN = "sweep.json"
MAX_RUNS = 1000
TUPLE_OPTIONS = ("betas", "g_hidden", "d_hidden")  # alternatives separated by ':', each a comma list
NOT_SWEPT = ("seed",)  # --seeds says which
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "ROLE_WORLD_SIZE",
                "GROUP_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")


@dataclass(frozen=True)
class Run:
    config: str  # the configuration's name, e.g. batch_size=8_betas=0.5,0.999
    seed: int
    folder: Path
    options: dict[str, Any]  # what `train` is given (without --seed and --out)


class RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def parse_seeds(text: str) -> list[int]:
    """'1-8', '1,3,5' or '1-3,10' as a list of distinct seeds, in order."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            first, _, last = part.strip().partition("-")
            if int(last or first) < int(first):
                raise UsageError(f"--seeds: a range runs upwards (1-8, not 8-1), got {text!r}")
            seeds += range(int(first), int(last or first) + 1)
    except ValueError:
        raise UsageError(f"--seeds: expected seeds like 1-8 or 1,3,5, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0 or len(seeds) > MAX_RUNS:
        raise UsageError(f"--seeds: expected 1 to {MAX_RUNS} distinct seeds of 0 or more, got {text!r}")
    return seeds


def parse_set(text: str) -> tuple[str, list[Any]]:
    """'batch_size=8,16' (or batch-size) as ('batch_size', [8, 16]), each value checked as `train` checks it;
    options holding a list take alternatives separated by ':' ('betas=0.5,0.999:0.9,0.999')."""
    name, equals, values = text.partition("=")
    name = name.strip().replace("-", "_")
    parser, flag = RaisingParser(add_help=False, parents=[train_options()]), "--" + name.replace("_", "-")
    known = [a.dest for a in parser._actions if a.dest not in NOT_SWEPT]  # what `train` takes on its command line
    if not equals or name not in known:
        raise UsageError(f"--set {text!r}: expected OPTION=V1,V2,... with an option of `train` "
                         f"({', '.join(known)}); seeds go in --seeds")
    if not values.strip(":, "):
        raise UsageError(f"--set {text!r}: no values after '='")
    parsed = []
    for value in values.split(":" if name in TUPLE_OPTIONS else ","):
        if name in SWITCHES:
            if value not in ("on", "off"):
                raise UsageError(f"--set {text!r}: {name} takes on or off")
            parsed.append(value == "on")
        else:
            try:
                parsed.append(getattr(parser.parse_args([flag, value.strip()]), name))
            except UsageError as exc:
                raise UsageError(f"--set {text!r}: {exc}") from None
    if len(set(map(str, parsed))) != len(parsed):
        raise UsageError(f"--set {text!r}: a value is given twice")
    return name, parsed


def config_name(settings: dict[str, Any]) -> str:
    """A configuration's name and folder, e.g. batch_size=8_betas=0.5,0.999 ('default' without settings)."""
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "on" if value else "off"
        return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)
    name = "_".join(f"{k}={text(v)}" for k, v in settings.items()) or "default"
    return "".join(c if c.isalnum() or c in "=,._+-" else "-" for c in name)


def check_options(options: dict[str, Any], where: str) -> None:
    """What `train` would refuse, said before any run starts."""
    merged = {**RECIPES.get(options.get("recipe") or "", {}), **options}
    try:
        ModelConfig(**{k: v for k, v in merged.items() if k in MODEL_OPTIONS}).validate()
        TrainConfig(**{k: v for k, v in merged.items() if k in TRAIN_OPTIONS}).validate()
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def make_plan(base: dict[str, Any], sets: list[tuple[str, list[Any]]], seeds: list[int],
              report: bool = True) -> dict[str, Any]:
    names = [name for name, _ in sets]
    if len(set(names)) != len(names):
        raise UsageError("--set: each option once (give all its values in one --set)")
    shared = [n for n in names if n in base]
    if shared:
        raise UsageError(f"--{shared[0].replace('_', '-')} is given both alone and in --set: give it in one place")
    configs = []
    for values in itertools.product(*(values for _, values in sets)):
        settings = dict(zip(names, values, strict=True))
        check_options({**base, **settings}, f"configuration {config_name(settings)}")
        configs.append({"name": config_name(settings), "settings": settings})
    names = [c["name"] for c in configs]
    if len(set(names)) != len(names) or max(map(len, names)) > 200:
        raise UsageError("--set: the configurations' folder names (their settings) must be distinct and short")
    if len(configs) * len(seeds) > MAX_RUNS:
        raise UsageError(f"{len(configs)} configurations x {len(seeds)} seeds is more than {MAX_RUNS} runs")
    return {"format": 1, "base": base, "configs": configs, "seeds": seeds, "report": report}


def runs_of(plan: dict[str, Any], folder: Path) -> list[Run]:
    return [Run(c["name"], seed, folder / c["name"] / f"seed_{seed}", {**plan["base"], **c["settings"]})
            for c in plan["configs"] for seed in plan["seeds"]]


def read_plan(folder: Path) -> dict[str, Any]:
    path = folder / PLAN
    if not path.exists():
        raise UsageError(f"{folder} is not a sweep (no {PLAN}): start one without --resume")
    try:
        plan = json.loads(path.read_text())
        if not isinstance(plan, dict) or not isinstance(plan.get("configs"), list) or not isinstance(
                plan.get("base"), dict) or not isinstance(plan.get("seeds"), list):
            raise ValueError("not a plan with base, configs and seeds")
        for config in plan["configs"]:
            config["settings"] = {k: tuple(v) if isinstance(v, list) else v for k, v in config["settings"].items()}
        plan["base"] = {k: tuple(v) if isinstance(v, list) else v for k, v in plan["base"].items()}
        seeds = plan["seeds"]
        if not all(type(seed) is int and seed >= 0 for seed in seeds) or len(set(seeds)) != len(seeds) or not seeds:
            raise ValueError("seeds must be distinct integers of 0 or more")
        if not plan["configs"] or any(c["name"] != config_name(c["settings"]) for c in plan["configs"]):
            raise ValueError("a configuration's name does not match its settings")
        for config in plan["configs"]:
            check_options({**plan["base"], **config["settings"]}, f"configuration {config['name']}")
    except (ValueError, KeyError, TypeError, AttributeError, UsageError) as exc:
        why = exc if isinstance(exc, (ValueError, UsageError)) else f"{type(exc).__name__}: {exc}"
        raise UsageError(f"{path} is damaged ({why}); start the sweep again in a new folder") from None
    return plan


def state_of(run: Run) -> str:
    """'done' (trained to its epochs), 'started' (a folder to --resume) or 'new'."""
    rundir = RunDir(run.folder)
    if not rundir.config_path.exists():
        return "new"
    try:
        epochs = rundir.read_config()["train"]["epochs"]
    except (UsageError, KeyError, TypeError):
        return "started"
    return "done" if rundir.last_checkpoint.exists() and epoch_of(rundir.last_checkpoint) == epochs else "started"


def command(run: Run, state: str, report: bool = True) -> list[str]:
    train = [sys.executable, "-m", "vanilla_gan", "train", *([] if report else ["--no-report"])]
    if state == "started":  # its own config.json holds the options
        return [*train, "--out", str(run.folder), "--resume"]
    return [*train, *as_arguments(run.options), "--seed", str(run.seed), "--out", str(run.folder)]


def _stop_with_parent() -> None:
    """In a child, before it starts: SIGTERM (save and stop) when the sweep dies, even by SIGKILL (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: a killed sweep leaves its runs to finish on their own
        pass


def child_env(threads: int | None) -> dict[str, str]:
    """This environment without torchrun's variables (each run is one process), with `threads` if given."""
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env["PYTHONUNBUFFERED"] = "1"  # a run's lines reach a log or pipe as they are printed, in order with ours
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


class Runner:
    """Trains runs in child processes, `jobs` at a time; SIGINT/SIGTERM are passed on once (each child saves
    and stops), a second one stops them at once."""

    def __init__(self, folder: Path, jobs: int, total: int, report: bool = True):
        self.folder, self.jobs, self.total, self.report = folder, jobs, total, report
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.threads = max(1, cores // jobs) if jobs > 1 else None
        self.running: dict[subprocess.Popen, tuple[Run, Any]] = {}
        self.failed: list[str] = []
        self.finished = 0
        self.stop = StopFlag()

    def log_path(self, run: Run) -> Path:
        return self.folder / "logs" / f"{run.config}_seed_{run.seed}.log"

    def start(self, run: Run, state: str) -> None:
        make_folder(run.folder.parent)
        log = None
        if self.jobs > 1:
            make_folder(self.log_path(run).parent)
            log = self.log_path(run).open("a")
        verb = {"new": "training", "started": "resuming"}[state]
        print(f"[{self.finished + len(self.running) + 1}/{self.total}] {verb} {run.config}, seed {run.seed}: "
              f"{run.folder}", flush=True)
        process = subprocess.Popen(command(run, state, self.report), env=child_env(self.threads), stdout=log,
                                   stderr=log, start_new_session=True,  # a Ctrl-C reaches them through us, once
                                   preexec_fn=_stop_with_parent)
        self.running[process] = (run, log)

    def reap(self, block: bool) -> None:
        while self.running:
            for process, (run, log) in list(self.running.items()):
                if process.poll() is None:
                    continue
                del self.running[process]
                if log is not None:
                    log.close()
                self.finished += 1
                if process.returncode == Interrupted.exit_code or self.stop.requested:
                    continue
                if process.returncode != 0:
                    where = f" (see {self.log_path(run)})" if log is not None else ""
                    self.failed.append(f"{run.config} seed {run.seed}: exit status {process.returncode}{where}")
                    print(f"warning: {self.failed[-1]}", file=sys.stderr)
                return
            if not block:
                return
            time.sleep(0.1)

    def signal_children(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)

    def run_all(self, runs: list[tuple[Run, str]]) -> None:
        forwarded = False
        with self.stop:
            try:
                pending = list(runs)
                while pending or self.running:
                    if self.stop.requested:
                        if not forwarded:
                            self.signal_children()
                            forwarded = True
                        pending = []
                    while pending and len(self.running) < self.jobs:
                        self.start(*pending.pop(0))
                    self.reap(block=False)
                    time.sleep(0.05)
            except KeyboardInterrupt:  # a second signal: the children stop at once too
                self.signal_children()
                self.reap(block=True)
                raise
        if self.stop.requested:
            raise Interrupted(f"the sweep was interrupted; every run saved its place: continue it with "
                              f"vanilla-gan sweep --out {self.folder} --resume")


def prepare(args: argparse.Namespace, base: dict[str, Any], write: bool) -> dict[str, Any]:
    """The plan: read back (--resume), or made from the options and, when `write`, written to a new folder."""
    folder: Path = args.out
    if args.jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, got {args.jobs}")
    if args.resume:
        if base or args.set or args.seeds or args.no_report:
            raise UsageError("a sweep's plan is fixed: --resume takes only --out (and --jobs); "
                             "start a new sweep to change it")
        return read_plan(folder)
    if args.seeds is None:
        raise UsageError("--seeds is needed, e.g. --seeds 1-5")
    plan = make_plan(base, [parse_set(s) for s in args.set or []], parse_seeds(args.seeds),
                     report=not args.no_report)
    if write:
        if folder.exists() and any(folder.iterdir()):
            raise UsageError(f"{folder} already exists and is not empty: choose a new --out, or pass "
                             f"--resume to continue the sweep in it")
        make_folder(folder)
        atomic_write(folder / PLAN, (json.dumps(plan, indent=2) + "\n").encode())
    return plan


def agreed(rank: int, world: int, work: Any) -> Any:
    """`work()` done by rank 0 and its result (or its UsageError) given to every process."""
    if world == 1:
        return work()
    box: list[Any] = [None]
    if rank == 0:
        try:
            box[0] = ("ok", work())
        except UsageError as exc:
            box[0] = ("error", str(exc))
    dist.broadcast_object_list(box, src=0)
    if box[0][0] == "error":
        raise UsageError(box[0][1])
    return box[0][1]


def sweep(args: argparse.Namespace) -> int:
    """`vanilla-gan sweep` (under torchrun, in every process: rank 0 plans and summarises, each trains a share)."""
    folder: Path = args.out
    base = {k: v for k, v in vars(args).items() if k in MODEL_OPTIONS + TRAIN_OPTIONS + ("recipe",) and v is not None}
    rank, world = (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo", timeout=timedelta(days=30))  # the runs may take days
    try:
        plan = agreed(rank, world, lambda: prepare(args, base, write=True))
        runs = runs_of(plan, folder)
        mine = [(run, state_of(run)) for run in runs[rank::world]]
        todo = [(run, state) for run, state in mine if state != "done"]
        if rank == 0:
            over = f" over {world} processes" if world > 1 else ""
            done = f"; {len(mine) - len(todo)} of them already done" if args.resume else ""
            print(f"sweep: {len(plan['configs'])} configuration(s) x {len(plan['seeds'])} seed(s) = {len(runs)} "
                  f"runs{over}{done}; folder {folder}", flush=True)
        runner = Runner(folder, args.jobs, len(mine), report=plan.get("report", True) is not False)
        runner.finished = len(mine) - len(todo)
        runner.run_all(todo)
        failed = runner.failed
        if world > 1:  # every process's runs have ended; rank 0 hears of every failure
            every: list[Any] = [None] * world
            dist.all_gather_object(every, runner.failed)
            failed = [line for lines in every for line in lines]
        if rank == 0:
            summary = write_summary(folder, plan, runs)
            print(summary.text)
            print(f"summary: {summary.csv}, {summary.html}")
        if failed:
            raise VanillaGanError(f"{len(failed)} run(s) failed: {'; '.join(failed)}; the summary leaves them out")
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", help="the seeds every configuration is trained with: 1-8, 1,3,5 or 1-3,10")
    p.add_argument("--set", action="append", metavar="OPTION=V1,V2",
                   help="an option of train and its values to try, e.g. batch_size=8,32; options holding a list "
                        "separate their values with ':' (betas=0.5,0.999:0.9,0.999); several --set: every "
                        "combination")
    p.add_argument("--out", type=Path, required=True, help="the sweep folder")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out: finished runs are kept")
    p.add_argument("--no-report", action="store_true", help="runs write no report.html (faster)")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained at once, the CPU's threads split between them (default: 1; under torchrun, "
                        "per process)")

