"""`vanilla-gan sweep`: every configuration x seed trained as an ordinary run folder, then summarised.

    vanilla-gan sweep --seeds 1-5 --set batch_size=8,32 --set betas=0.5,0.999:0.9,0.999 --epochs 10 --out S
    vanilla-gan sweep --out S --resume        # after Ctrl-C: finished runs stay as they are, the others continue
    (the first command again with --resume does the same: options that differ from S/sweep.json are refused)

The sweep folder:
    S/sweep.json                      the plan: the options every run shares, the configurations, the seeds
    S/<configuration>/seed_<N>/       one run folder each (`vanilla-gan train ... --seed N --out` it)
    S/logs/<configuration>_seed_<N>.log   what a run printed, when runs go side by side (--jobs > 1)
    S/summary.csv, S/runs.csv, S/summary.html   written when every run has ended (report/sweep_summary.py)

Each run is `python -m vanilla_gan train` in a child process: the same program, options and seed as training
it alone, so a sweep's run is bit-identical to `vanilla-gan train` with its configuration and seed on the
same machine. `--batched K` trains up to K seeds of a configuration side by side as one batched model
(batched.py: each run keeps its own draws and state; equal to its run alone to float tolerance, not bit for bit)
in one child, `python -m vanilla_gan sweep --out S --group I`. `--jobs N` trains N runs (or groups) at once
with the CPU's threads split between them; under torchrun every process takes its own share of them (no
gradients are exchanged: the runs are independent) and rank 0 writes the summary when all are done.
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
from tqdm.auto import tqdm

from vanilla_gan.api import MODEL_OPTIONS, TRAIN_OPTIONS, Training, train_side_by_side
from vanilla_gan.batched import training_rng
from vanilla_gan.errors import Interrupted, UsageError, VanillaGanError
from vanilla_gan.fileio import atomic_write, make_folder
from vanilla_gan.options import as_arguments
from vanilla_gan.report.sweep_summary import write_summary
from vanilla_gan.runtime import StopFlag
from vanilla_gan.sweepplan import (
    MAX_BATCHED,
    PLAN,
    Run,
    differences,
    groups_of,
    make_plan,
    parse_seeds,
    parse_set,
    read_plan,
    runs_of,
    seeds_text,
    state_of,
)

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "ROLE_WORLD_SIZE",
                "GROUP_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")


def command(run: Run, state: str, report: bool = True) -> list[str]:
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
        self.running: dict[subprocess.Popen, tuple[Run, Any]] = {}
        self.failed: list[tuple[int, str]] = []  # (runs, what failed): a group's runs fail together
        self.finished = 0
        self.stop = StopFlag()

    def log_path(self, group: list[Run]) -> Path:
        return self.folder / "logs" / f"{group[0].config}_seed_{seeds_text(group)}.log"

    def start(self, group: list[Run], index: int) -> None:
        """Start group `index` of the sweep (`groups_of`): one run alone, or several side by side."""
        run = group[0]
        make_folder(run.folder.parent)
        log = None
        if self.jobs > 1:
            make_folder(self.log_path(group).parent)
            log = self.log_path(group).open("a")
        if len(group) == 1:
            state = state_of(run)
            what, argv = f"{run.config}, seed {run.seed}: {run.folder}", command(run, state, self.report)
            verb = {"new": "training", "started": "resuming"}[state]
        else:
            what = f"{run.config}, seeds {seeds_text(group)} side by side: {run.folder.parent}"
            argv, verb = [sys.executable, "-m", "vanilla_gan", "sweep", "--out", str(self.folder), "--group",
                          str(index)], "training"
        print(f"[{self.finished + len(self.running) + 1}/{self.total}] {verb} {what}", flush=True)
        process = subprocess.Popen(argv, env=child_env(self.threads), stdout=log, stderr=log,
                                   start_new_session=True,  # a Ctrl-C reaches them through us, once
                                   preexec_fn=_stop_with_parent)
        self.running[process] = (group, log)

    def reap(self, block: bool) -> None:
        while self.running:
            for process, (group, log) in list(self.running.items()):
                if process.poll() is None:
                    continue
                del self.running[process]
                if log is not None:
                    log.close()
                self.finished += 1
                if process.returncode == Interrupted.exit_code or self.stop.requested:
                    continue
                if process.returncode != 0:
                    where = f" (see {self.log_path(group)})" if log is not None else ""
                    seeds = f"seed{'s' if len(group) > 1 else ''} {seeds_text(group)}"
                    self.failed.append((len(group), f"{group[0].config} {seeds}: exit status {process.returncode}"
                                                    f"{where}"))
                    print(f"warning: {self.failed[-1][1]}", file=sys.stderr)
                return
            if not block:
                return
            time.sleep(0.1)

    def signal_children(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)

    def run_all(self, groups: list[tuple[list[Run], int]]) -> None:
        forwarded = False
        with self.stop:
            try:
                pending = list(groups)
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
                              f"vanilla-gan sweep --out {shlex.quote(str(self.folder))} --resume")


def train_group(folder: Path, plan: dict[str, Any], index: int) -> int:
    """The child of `--batched`: group `index`'s unfinished runs side by side, those at the same place in training
    together (a run that failed before, its stop.json kept, goes alone)."""
    groups = groups_of(plan, folder)
    if not 0 <= index < len(groups):
        raise UsageError(f"--group {index}: the sweep has groups 0..{len(groups) - 1}")
    report = plan.get("report", True) is not False
    sessions: list[tuple[Training, Any, tuple]] = []
    try:
        for run in groups[index]:
            state = state_of(run)
            if state == "done":
                continue
            options = {} if state == "started" else {**run.options, "seed": run.seed}
            log = lambda line, seed=run.seed: tqdm.write(f"seed {seed}: {line}", file=sys.stdout)  # noqa: E731
            session = Training(out=run.folder, resume=state == "started", report=report, log=log, **options)
            rng = training_rng(session.device)  # now: where this run's own noise and dropout start
            if session.nothing_to_do:
                session.close()
                continue
            t = session.trainer
            failed_before = session.run_dir.stop_path.exists()
            sessions.append((session, rng, (t.epoch, t.step, t.batch_in_epoch, failed_before and run.seed)))
    except BaseException:
        for session, _, _ in sessions:
            session.close()
        raise
    places = list(dict.fromkeys(place for _, _, place in sessions))
    for n, place in enumerate(places):
        together = [(session, rng) for session, rng, at in sessions if at == place]
        seeds = ", ".join(str(s.trainer.config.seed) for s, _ in together)
        what = f"seeds {seeds} side by side" if len(together) > 1 else f"seed {seeds} (alone in its group now)"
        print(f"{what} (epoch {place[0] + 1}, step {place[1]})", flush=True)
        try:
            train_side_by_side([s for s, _ in together], [rng for _, rng in together])
        except BaseException:
            for later in places[n + 1:]:
                for session, _, at in sessions:
                    if at == later:
                        session.close()
            raise
    return 0


def prepare(args: argparse.Namespace, base: dict[str, Any], write: bool) -> dict[str, Any]:
    """The plan: read back (--resume), or made from the options and, when `write`, written to a new folder."""
    folder: Path = args.out
    if args.jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, got {args.jobs}")
    if args.resume:  # the sweep's own options may be typed again; any other value is refused, by name
        plan = read_plan(folder)
        changed = differences(plan, base, args.set, args.seeds, args.no_report, args.batched)
        if changed:
            raise UsageError(f"{'; '.join(changed)}: --resume continues the plan in {folder} as it was made "
                             f"(only --jobs may change); drop the option, or start a new sweep with another --out")
        return plan
    if args.batched is not None and not 1 <= args.batched <= MAX_BATCHED:
        raise UsageError(f"--batched must be in 1..{MAX_BATCHED} (runs side by side), got {args.batched}")
    if args.seeds is None:
        raise UsageError("--seeds is needed, e.g. --seeds 1-5")
    plan = make_plan(base, [parse_set(s) for s in args.set or []], parse_seeds(args.seeds),
                     report=not args.no_report, batched=args.batched or 1)
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
    if args.group is not None:  # a child of a sweep: one group of runs side by side
        return train_group(folder, read_plan(folder), args.group)
    rank, world = (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo", timeout=timedelta(days=30))  # the runs may take days
    try:
        plan = agreed(rank, world, lambda: prepare(args, base, write=True))
        runs = runs_of(plan, folder)
        mine = list(enumerate(groups_of(plan, folder)))[rank::world]
        todo = [(group, i) for i, group in mine if any(state_of(run) != "done" for run in group)]
        if rank == 0:
            over = f" over {world} processes" if world > 1 else ""
            done = sum(state_of(run) == "done" for run in runs)
            batched = f", up to {plan['batched']} side by side" if plan.get("batched", 1) > 1 else ""
            print(f"sweep: {len(plan['configs'])} configuration(s) x {len(plan['seeds'])} seed(s) = {len(runs)} "
                  f"runs{batched}{over}{f'; {done} of them already done' if args.resume else ''}; folder {folder}",
                  flush=True)
        runner = Runner(folder, args.jobs, len(mine), report=plan.get("report", True) is not False)
        runner.finished = len(mine) - len(todo)
        runner.run_all(todo)
        failed = runner.failed
        if world > 1:  # every process's runs have ended; rank 0 hears of every failure
            every: list[Any] = [None] * world
            dist.all_gather_object(every, runner.failed)
            failed = [entry for entries in every for entry in entries]
        if rank == 0:
            summary = write_summary(folder, plan, runs)
            print(summary.text)
            print(f"summary: {summary.csv}, {summary.html}")
        if failed:
            raise VanillaGanError(f"{sum(n for n, _ in failed)} run(s) failed: {'; '.join(t for _, t in failed)}; "
                                  f"the summary leaves them out")
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
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out: finished runs are kept; the sweep's own options may be given "
                        "again, others are refused")
    p.add_argument("--no-report", action="store_true", help="runs write no report.html (faster)")
    p.add_argument("--batched", type=int, metavar="K",
                   help="train up to K (1..64) seeds of a configuration side by side as one batched model "
                        "(faster on a CPU at batch 8; equal to each run alone to float tolerance, not bit for bit; "
                        "default: 1, each run alone)")
    p.add_argument("--group", type=int, help=argparse.SUPPRESS)  # the child that trains one group
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained at once, the CPU's threads split between them (default: 1; under torchrun, "
                        "per process)")

