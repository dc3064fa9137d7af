"""`vanilla-gan sweep`: every configuration x seed trained as an ordinary run folder, then summarised.

    vanilla-gan sweep --seeds 1-5 --set batch_size=8,32 --set betas=0.5,0.999:0.9,0.999 --epochs 10 --out S
    vanilla-gan sweep --out S --resume        # after Ctrl-C: finished runs stay as they are, the others continue
    (the first command again with --resume does the same: options that differ from S/sweep.json are refused)

The sweep folder:
    S/sweep.json                      the plan: the options every run shares, the configurations, the seeds
    S/<configuration>/seed_<N>/       one run folder each (`vanilla-gan train ... --seed N --out` it)
    S/logs/<configuration>_seed_<N>.log   what a run printed, when runs train at once (--jobs > 1)
    S/summary.csv, S/runs.csv, S/summary.html   written when every run has ended (report/sweep_summary.py)

Each run is `python -m vanilla_gan train` in a child process: the same program, options and seed as training
it alone, so a sweep's run is bit-identical to `vanilla-gan train` with its configuration and seed on the
same machine. `--jobs N` trains N runs at once with the CPU's threads split between them; under torchrun every
process takes its own share of them (no gradients are exchanged: the runs are independent) and rank 0 writes
the summary when all are done.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch.distributed as dist

from vanilla_gan.cli.common import common_options
from vanilla_gan.cli.options import as_arguments, folder_path, train_options
from vanilla_gan.cli.sweep_plan import (
    PLAN,
    PlannedRun,
    differences,
    make_plan,
    parse_seeds,
    parse_set,
    read_plan,
    runs_of,
    stale_recipe,
    state_of,
    unkept_recipe,
)
from vanilla_gan.config import MODEL_OPTIONS, TRAIN_OPTIONS
from vanilla_gan.errors import Interrupted, UsageError, VanillaGanError
from vanilla_gan.fileio import atomic_write, make_folder
from vanilla_gan.report.sweep_summary import write_summary
from vanilla_gan.runs.runfolder import RunFolder
from vanilla_gan.training.process import StopFlag

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "ROLE_WORLD_SIZE",
                "GROUP_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")


def command(run: PlannedRun, state: str, report: bool = True) -> list[str]:
    """The child that trains one run alone: `vanilla-gan train` with its options and seed (or --resume)."""
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
        self.running: dict[subprocess.Popen, tuple[PlannedRun, Any]] = {}
        self.failed: list[str] = []  # what failed, a line per run
        self.finished = 0
        self.stop = StopFlag()

    def log_path(self, run: PlannedRun) -> Path:
        return self.folder / "logs" / f"{run.config}_seed_{run.seed}.log"

    def start(self, run: PlannedRun) -> None:
        """Start training `run` (a new one, or resuming a started one) in a child process. The run folder's rule
        holds for the sweep folder: nothing it writes (a configuration's folder, a run, a log) may be a link out
        of it, or anything but a folder or regular file."""
        inside = RunFolder(self.folder)
        for path in (self.folder, run.folder.parent, run.folder, self.log_path(run).parent):
            inside.check_entry(path, folder=True)
        make_folder(run.folder.parent)
        log = None
        if self.jobs > 1:
            make_folder(self.log_path(run).parent)
            inside.check_entry(self.log_path(run))
            log = self.log_path(run).open("a")
        state = state_of(run)
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

    def run_all(self, runs: list[PlannedRun]) -> None:
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
                        self.start(pending.pop(0))
                    self.reap(block=False)
                    time.sleep(0.05)
            except KeyboardInterrupt:  # a second signal: the children stop at once too
                self.signal_children()
                self.reap(block=True)
                raise
        if self.stop.requested:
            raise Interrupted(f"the sweep was interrupted; every run saved its place: continue it with "
                              f"vanilla-gan sweep --out {shlex.quote(str(self.folder))} --resume")


def prepare(args: argparse.Namespace, base: dict[str, Any], write: bool) -> dict[str, Any]:
    """The plan: read back (--resume), or made from the options and, when `write`, written to a new folder."""
    folder: Path = args.out
    if args.jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, got {args.jobs}")
    if args.batched is not None:
        raise UsageError("--batched was removed: it trained a sweep no faster than --jobs (1.45x against --jobs 2's "
                         "1.46x on a 2-core CPU, docs/sweeps.md); use --jobs N to train N runs at once")
    if args.resume:  # the sweep's own options may be typed again; any other value is refused, by name
        plan = read_plan(folder)
        changed = differences(plan, base, args.set, args.seeds, args.no_report)
        if changed:
            raise UsageError(f"{'; '.join(changed)}: --resume continues the plan in {folder} as it was made "
                             f"(only --jobs may change); drop the option, or start a new sweep with another --out")
        runs = runs_of(plan, folder)
        stale = stale_recipe(plan, runs)
        if stale:
            raise UsageError(f"{stale}: this version's recipe differs from the one the plan in {folder} was made "
                             f"with, so its runs not yet started would train another recipe than its others; finish "
                             f"it with the version that made it, or start a new sweep with another --out")
        unkept = unkept_recipe(plan, runs)
        if unkept:
            print(f"warning: {unkept}", file=sys.stderr)
        return plan
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


def run(args: argparse.Namespace) -> int:
    """`vanilla-gan sweep` (under torchrun, in every process: rank 0 plans and summarises, each trains a share)."""
    folder: Path = args.out
    base = {k: v for k, v in vars(args).items() if k in MODEL_OPTIONS + TRAIN_OPTIONS + ("recipe",) and v is not None}
    rank, world = (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo", timeout=timedelta(days=30))  # the runs may take days
    try:
        plan = agreed(rank, world, lambda: prepare(args, base, write=True))
        runs = runs_of(plan, folder)
        mine = runs[rank::world]
        todo = [run for run in mine if state_of(run) != "done"]
        if rank == 0:
            over = f" over {world} processes" if world > 1 else ""
            done = sum(state_of(run) == "done" for run in runs)
            print(f"sweep: {len(plan['configs'])} configuration(s) x {len(plan['seeds'])} seed(s) = {len(runs)} "
                  f"runs{over}{f'; {done} of them already done' if args.resume else ''}; folder {folder}",
                  flush=True)
            if plan.get("batched_before", 1) > 1:
                print(f"note: this sweep was planned with --batched {plan['batched_before']}, which was removed: its "
                      f"runs go on one at a time (--jobs N trains N at once)", flush=True)
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
    p.add_argument("--out", type=folder_path, required=True, help="the sweep folder")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out: finished runs are kept; the sweep's own options may be given "
                        "again, others are refused")
    p.add_argument("--no-report", action="store_true", help="runs write no report.html (faster)")
    p.add_argument("--batched", help=argparse.SUPPRESS)  # removed: refused with a line that says to use --jobs
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained at once, the CPU's threads split between them (default: 1; under torchrun, "
                        "per process)")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sweep", parents=[common_options(), train_options(seed=False)], allow_abbrev=False,
                              help="train every configuration x seed, then summarise them",
                              description="Train each combination of the --set values with each of --seeds, every "
                                          "run an ordinary run folder inside --out, then write OUT/summary.csv and "
                                          "OUT/summary.html: the median and spread over the seeds, ranked by FID. "
                                          "The other options are train's, shared by every run. Ctrl-C saves every "
                                          "run; --resume continues.")
    add_arguments(p)
    p.set_defaults(func=run)
