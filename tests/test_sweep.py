"""`vanilla-gan sweep` (sweep.py, report/sweep_summary.py): the plan, runs that are ordinary run folders and
bit-identical to `train` alone, Ctrl-C and --resume, side-by-side jobs, torchrun, the summary, bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from browser import find_chromium, load_page
from helpers import TINY, WAIT, assert_one_line_error, assert_same_run, run_cli, run_weights, wait_for

from vanilla_gan.cli.sweep_plan import PlannedRun, parse_seeds, parse_set, read_plan
from vanilla_gan.errors import UsageError
from vanilla_gan.report.sweep_summary import cautions, chance_apart, render, summarise, text_table

# A tiny model, evaluated at its last epoch (FID and the rest), no report: a run takes a few seconds.
# (The batch size is left to each test: the default 8, or --set.)
SMALL = [a for a in TINY if a not in ("--eval-every", "0", "--batch-size", "64")] + [
    "--eval-every", "2", "--eval-samples", "1000", "--epochs", "2", "--no-report"]


def same_state(a: Path, b: Path) -> bool:
    """The two runs' whole state bit-identical (weights, EMA, Adam, RNGs, position, metrics; helpers.py)."""
    assert_same_run(a, b)
    return True


def differ(a: Path, b: Path) -> bool:
    wa, wb = run_weights(a), run_weights(b)
    return not all(torch.equal(wa[k], wb[k]) for k in wa)


def interrupted_sweep(args: list, started: Path, settle: float) -> str:
    """Start `vanilla-gan sweep ARGS`, SIGINT it `settle` s after `started` exists; its stderr (exit 130 checked)."""
    sweep = subprocess.Popen([sys.executable, "-m", "vanilla_gan", "sweep", *map(str, args)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    wait_for(f"{started.name} to exist", started.exists, sweep, poll=0.05)
    time.sleep(settle)  # a moment into the run, chosen by the test: not a wait for an event
    sweep.send_signal(signal.SIGINT)
    _, err = sweep.communicate(timeout=WAIT)
    assert sweep.returncode == 130, err[-500:]
    assert "error:" not in err, err[-500:]  # a stop on request is not an error
    return err


def rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- parsing the plan

def test_seeds_and_sets_parse_as_documented():
    assert parse_seeds("1-3,10") == [1, 2, 3, 10]
    assert parse_seeds("5") == [5]
    assert parse_set("batch_size=8,16") == ("batch_size", [8, 16])
    assert parse_set("batch-size=8") == ("batch_size", [8])
    assert parse_set("betas=0.5,0.999:0.9,0.999") == ("betas", [(0.5, 0.999), (0.9, 0.999)])
    assert parse_set("g_hidden=64,64:128,128") == ("g_hidden", [(64, 64), (128, 128)])
    assert parse_set("g_loss=minimax,non-saturating") == ("g_loss", ["minimax", "non-saturating"])
    assert parse_set("cuda_graph=on,off") == ("cuda_graph", [True, False])


@pytest.mark.parametrize(("text", "says"), [
    ("", "expected seeds"), ("a-b", "expected seeds"), ("3-1", "a range runs upwards"), ("1,1", "distinct"),
    ("-2", "expected seeds")])
def test_bad_seeds_are_usage_errors(text, says):
    with pytest.raises(UsageError, match=says):
        parse_seeds(text)


@pytest.mark.parametrize(("text", "says"), [
    ("batch_size", "expected OPTION="), ("colour=red", "expected OPTION="), ("seed=1,2", "seeds go in --seeds"),
    ("batch_size=eight", "invalid int"), ("betas=0.5", "two numbers"), ("g_loss=wasserstein", "invalid choice"),
    ("batch_size=8,8", "given twice"), ("cuda_graph=maybe", "on or off"), ("lr=", "no values"),
    ("grid_size=4,9", "expected OPTION=")])  # grid_size is in TrainConfig but not on train's command line
def test_bad_sets_are_usage_errors(text, says):
    with pytest.raises(UsageError, match=says):
        parse_set(text)


@pytest.mark.parametrize(("args", "says"), [
    (["--seeds", "1", "--set", "batch_size=0"], "configuration batch_size=0: --batch-size"),
    (["--seeds", "1", "--set", "lr=1e-4", "--set", "lr=2e-4"], "each option once"),
    (["--seeds", "1", "--set", "lr=1e-4", "--lr", "2e-4"], "both alone and in --set"),
    (["--set", "lr=1e-4"], "--seeds is needed"),
    (["--seeds", "1", "--jobs", "0"], "--jobs must be 1 or more"),
    (["--seeds", "1", "--seed", "3"], "unrecognized arguments: --seed"),
    (["--seeds", "1", "--resume"], "is not a sweep (no sweep.json)"),
    pytest.param(["--seeds", "1", "--device", "cuda"], "no CUDA device",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")),
])
def test_nonsensical_sweeps_are_one_line_before_any_run(tmp_path, args, says):
    out = tmp_path / "sweep"
    line = assert_one_line_error(run_cli("sweep", *args, "--out", out), 2)
    assert says in line
    assert not out.exists() or not list(out.iterdir())


def test_an_existing_folder_is_never_reused_and_a_damaged_plan_is_named(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert "--resume to continue" in assert_one_line_error(run_cli("sweep", "--seeds", "1", "--out", out), 2)
    assert "not a sweep (no sweep.json)" in assert_one_line_error(run_cli("sweep", "--out", out, "--resume"), 2)
    for damaged in ('{"configs": [{"name": 3}]', '{"base": {}, "seeds": [1], "configs": [{"name": "../../x", '
                    '"settings": {}}]}', '{"base": {}, "seeds": [1, 1], "configs": [{"name": "default", '
                    '"settings": {}}]}', '[]', '{"base": {}, "seeds": [1], "configs": [{"name": "batch_size=x", '
                    '"settings": {"batch_size": "x"}}]}'):
        (out / "sweep.json").write_text(damaged)
        assert "sweep.json is damaged" in assert_one_line_error(run_cli("sweep", "--out", out, "--resume"), 2)
    assert (out / "notes.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- a sweep, end to end

@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """2 configurations x 2 seeds of the tiny model."""
    out = tmp_path_factory.mktemp("sweeps") / "s"
    result = run_cli("sweep", "--seeds", "1-2", "--set", "batch_size=32,64", *SMALL, "--out", out, timeout=WAIT)
    assert result.returncode == 0, result.stderr[-800:]
    return out


def test_every_run_is_an_ordinary_run_folder_identical_to_train_alone(finished, tmp_path):
    run = finished / "batch_size=64" / "seed_2"
    assert json.loads((run / "config.json").read_text())["train"]["seed"] == 2
    assert json.loads((run / "config.json").read_text())["mkl_cbwr"] in ("AUTO,STRICT", None)  # the worker's MKL
    alone = tmp_path / "alone"
    assert run_cli("train", *SMALL, "--batch-size", 64, "--seed", 2, "--out", alone).returncode == 0
    assert same_state(run, alone)
    assert differ(run, finished / "batch_size=64" / "seed_1")  # the seeds differ
    assert run_cli("sample", run, "-n", 16, "-o", tmp_path / "s.png").returncode == 0  # the package reads it


def test_the_summary_ranks_configurations_by_median_fid_with_their_spread(finished):
    summary = rows(finished / "summary.csv")
    assert [r["configuration"] for r in summary] in (["batch_size=32", "batch_size=64"],
                                                    ["batch_size=64", "batch_size=32"])
    medians = [float(r["fid_median"]) for r in summary]
    assert medians == sorted(medians)
    per_run = rows(finished / "runs.csv")
    assert len(per_run) == 4 and {r["epoch"] for r in per_run} == {"2"}
    for r in summary:
        fids = [float(x["fid"]) for x in per_run if x["configuration"] == r["configuration"]]
        assert float(r["fid_min"]) == min(fids) and float(r["fid_max"]) == max(fids)
        assert float(r["fid_median"]) == pytest.approx(sum(fids) / 2)  # the median of two
    page = (finished / "summary.html").read_text()
    assert "batch_size=32" in page and "data:image/png;base64," in page and "http" not in page.split("<body>")[1]


def test_a_finished_sweeps_summary_says_its_two_seeds_are_too_few_and_its_steps_unequal(finished):
    """2 seeds per configuration cannot support a mark; batch 32 and 64 over 2 epochs of 512 images: 32 and 16 steps."""
    summary = rows(finished / "summary.csv")
    assert [r["beyond_seed_spread"] for r in summary] == ["", ""]
    page = (finished / "summary.html").read_text()
    assert "too few seeds to mark any difference: with 2 and 2 seeds" in page
    assert "compared at equal epochs (2) but unequal steps (" in page and "batch_size=32 32" in page


def test_a_sweep_run_again_with_its_own_options_and_resume_is_a_no_op(finished):
    """The command the user typed, with --resume added: accepted (every run is done: only the summary again)."""
    typed = ["sweep", "--seeds", "1-2", "--set", "batch_size=32,64", *SMALL, "--out", finished]
    before = {p: p.stat().st_mtime_ns for p in finished.glob("*/seed_*/checkpoints/last.pt")}
    again = run_cli(*typed, "--resume", "--jobs", 2)
    assert again.returncode == 0, again.stderr[-500:]
    assert "4 of them already done" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in before} == before  # no run trained again


@pytest.mark.parametrize(("changed", "named"), [
    (["--limit", "1000"], "--limit 1000 (the plan: 512)"),
    (["--seeds", "1-3"], "--seeds 1-3 (the plan: 1,2)"),
    (["--set", "batch_size=32,128"], "--set batch_size=32,128 (the plan: batch_size=32, batch_size=64)"),
    (["--lr", "1e-3"], "--lr 0.001 (the plan: not given)"),
])
def test_resume_refuses_only_options_that_differ_from_the_plan_naming_them(finished, changed, named):
    typed = ["--seeds", "1-2", "--set", "batch_size=32,64", *SMALL]
    given = typed + changed if changed[0] not in typed else \
        typed[:typed.index(changed[0])] + changed + typed[typed.index(changed[0]) + 2:]
    plan = (finished / "sweep.json").read_text()
    line = assert_one_line_error(run_cli("sweep", *given, "--out", finished, "--resume"), 2)
    assert named in line and line.count("(the plan:") == 1 and "drop the option" in line
    assert (finished / "sweep.json").read_text() == plan


@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_summary_page_opens_in_a_browser_without_errors(finished):
    page = load_page(find_chromium(), (finished / "summary.html").resolve().as_uri())
    assert not page.errors and not page.failed and page.broken_images == 0
    assert all(url.startswith("data:") for url in page.requests[1:]), page.requests  # self-contained


def fake_runs(folder: Path, fids: dict[str, list[float]], steps: dict[str, int] | None = None) -> list[PlannedRun]:
    """Finished runs of configurations (name -> each seed's final FID) at epoch 1, with `steps` per configuration."""
    runs = []
    for config, values in fids.items():
        for seed, fid in enumerate(values, start=1):
            run = folder / config / f"seed_{seed}"
            run.mkdir(parents=True)
            (run / "config.json").write_text("{}")
            record = {"epoch": 1, "step": (steps or {}).get(config, 100), "loss_d": 1.0, "loss_g": 1.0,
                      "d_real": 0.5, "d_fake": 0.5, "images_per_s": 1.0, "elapsed_s": 1.0, "fid": fid}
            (run / "metrics.jsonl").write_text(json.dumps(record) + "\n")
            runs.append(PlannedRun(config, seed, run, {}))
    return runs


def plan_of(fids: dict[str, list[float]]) -> dict:
    return {"configs": [{"name": n, "settings": {}} for n in fids], "seeds": list(range(1, len(fids["b"]) + 1))}


def test_beyond_the_seed_spread_means_ranges_that_do_not_overlap_at_enough_seeds(tmp_path):
    """4 seeds each: ranges apart happen by chance 2 / C(8, 4) = 2.9% of the time for alike configurations."""
    fids = {"a": [10, 12, 13, 30],  # overlaps b's range
            "b": [5, 6, 7, 11],
            "c": [20, 21, 22, 23]}  # entirely above b's
    configs = summarise(plan_of(fids), fake_runs(tmp_path, fids))
    assert [c["name"] for c in configs] == ["b", "a", "c"]
    assert [("fid" in c["beyond"]) for c in configs] == [False, False, True]
    assert configs[1]["stats"]["fid"] == {"median": 12.5, "q1": 11.5, "q3": 17.25, "min": 10, "max": 30, "n": 4}
    assert cautions(configs) == []  # enough seeds, equal steps: nothing to warn of
    assert chance_apart(4, 4) == pytest.approx(2 / 70) and chance_apart(5, 5) == pytest.approx(2 / 252)


@pytest.mark.parametrize("seeds", [2, 3])
def test_with_too_few_seeds_nothing_is_marked_and_the_summary_says_why(tmp_path, seeds):
    """2 and 3 seeds each: alike configurations' ranges miss each other 1 time in 3 and 1 in 10, more than 5%."""
    fids = {"b": [5, 6, 7][:seeds], "c": [20, 21, 22][:seeds]}  # ranges far apart, yet too few seeds to say so
    configs = summarise(plan_of(fids), fake_runs(tmp_path, fids))
    assert [c["beyond"] for c in configs] == [set(), set()]
    (note,) = cautions(configs)
    assert note.startswith(f"too few seeds to mark any difference: with {seeds} and {seeds} seeds")
    assert f"{chance_apart(seeds, seeds):.0%} of the time" in note and "4 seeds each" in note
    assert f"note: {note}" in text_table(configs)


def test_the_summary_says_when_equal_epochs_are_unequal_steps(tmp_path):
    fids = {"b": [5, 6, 7, 8], "c": [20, 21, 22, 23]}
    configs = summarise(plan_of(fids), fake_runs(tmp_path, fids, steps={"b": 1250, "c": 100}))
    assert cautions(configs) == ["compared at equal epochs (1) but unequal steps (b 1,250, c 100): an epoch is not "
                                 "the same amount of training in each"]
    assert "Note:</strong> compared at equal epochs (1)" in render({"base": {}, "seeds": [1, 2, 3, 4]}, configs)


# ----------------------------------------------------------------------------- Ctrl-C, --resume, --jobs

def test_ctrl_c_stops_every_run_and_resume_finishes_leaving_finished_runs_untouched(tmp_path):
    out = tmp_path / "s"
    slow = [*SMALL, "--limit", "4096", "--batch-size", "8"]  # 512 steps an epoch: time to interrupt one
    first, second = out / "default" / "seed_1", out / "default" / "seed_2"
    # once the first run has finished and the second started
    err = interrupted_sweep(["--seeds", "1-2", *slow, "--out", out], second / "config.json", settle=0.5)
    assert "vanilla-gan sweep --out" in err.strip().splitlines()[-1] and "--resume" in err
    assert not (out / "summary.csv").exists()
    finished_at = (first / "checkpoints" / "last.pt").stat().st_mtime_ns
    resumed = run_cli("sweep", "--out", out, "--resume", timeout=WAIT)
    assert resumed.returncode == 0, resumed.stderr[-500:]
    assert "1 of them already done" in resumed.stdout
    assert (first / "checkpoints" / "last.pt").stat().st_mtime_ns == finished_at
    assert len(rows(out / "runs.csv")) == 2
    alone = tmp_path / "alone"
    assert run_cli("train", *slow, "--seed", 2, "--out", alone).returncode == 0
    assert same_state(second, alone)  # interrupted and resumed: as if trained alone


def test_jobs_train_runs_side_by_side_with_their_output_in_logs(tmp_path):
    out = tmp_path / "s"
    result = run_cli("sweep", "--seeds", "1-2", *SMALL, "--jobs", "2", "--out", out, timeout=WAIT)
    assert result.returncode == 0, result.stderr[-500:]
    logs = sorted(p.name for p in (out / "logs").iterdir())
    assert logs == ["default_seed_1.log", "default_seed_2.log"]
    assert "done: 2 epochs" in (out / "logs" / "default_seed_1.log").read_text()
    assert len(rows(out / "runs.csv")) == 2
    alone = tmp_path / "alone"  # with the threads the sweep gave it (2 cores / 2 jobs, at least 1)
    threads = str(max(1, len(os.sched_getaffinity(0)) // 2))
    assert run_cli("train", *SMALL, "--seed", 1, "--out", alone, env={"OMP_NUM_THREADS": threads}).returncode == 0
    assert same_state(out / "default" / "seed_1", alone)


def test_a_failing_run_is_named_and_the_others_still_run(tmp_path):
    """A data folder that does not exist passes the plan's checks but fails its run; the summary still comes."""
    out, missing = tmp_path / "s", tmp_path / "no-such-data"
    result = run_cli("sweep", "--seeds", "1", "--set", f"dataset={missing},digits", *SMALL, "--out", out,
                     timeout=WAIT)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]  # after the run's own error line, as `train` printed it
    assert line.startswith("error: 1 run(s) failed: dataset=-") and "no-such-data seed 1: exit status 2" in line
    assert [r["configuration"] for r in rows(out / "runs.csv")] == ["dataset=digits"]


def test_under_torchrun_a_bad_sweep_stops_every_process_at_once(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
               "vanilla_gan", "sweep", "--seeds", "1", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)  # no process waits for another
    assert result.returncode != 0 and result.stderr.count("already exists and is not empty") == 2
    assert "Traceback" not in result.stderr.split("error: ")[0]


def test_torchrun_shares_the_runs_between_processes(tmp_path):
    out = tmp_path / "s"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
               "vanilla_gan", "sweep", "--seeds", "1-3", *map(str, SMALL), "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr[-800:]
    assert "over 2 processes" in result.stdout
    assert sorted(r["seed"] for r in rows(out / "runs.csv")) == ["1", "2", "3"]
    alone = tmp_path / "alone"  # torchrun gave each process one thread (OMP_NUM_THREADS=1): so does this run
    assert run_cli("train", *SMALL, "--seed", 2, "--out", alone, env={"OMP_NUM_THREADS": "1"}).returncode == 0
    assert same_state(out / "default" / "seed_2", alone)  # rank 1 trained it as one process


# ----------------------------------------------------------------------------- --batched: removed

def test_the_removed_batched_option_says_to_use_jobs(tmp_path):
    """`--batched K` trained no faster than `--jobs` (docs/sweeps.md): one line says so, before anything is written."""
    for extra in ([], ["--resume"]):
        line = assert_one_line_error(run_cli("sweep", "--seeds", "1-2", "--batched", "2", *extra, "--out",
                                             tmp_path / "s"), 2)
        assert "--batched was removed" in line and "--jobs" in line
    assert not (tmp_path / "s").exists()


def test_an_older_batched_sweep_resumes_its_runs_one_by_one(tmp_path):
    """A plan made with --batched 2 still reads; its runs are trained one at a time, each an ordinary run."""
    out = tmp_path / "old"
    out.mkdir()
    plan = {"format": 1, "base": {"epochs": 1, "limit": 256, "batch_size": 64, "eval_every": 0}, "seeds": [1, 2],
            "report": False, "batched": 2, "configs": [{"name": "default", "settings": {}}]}
    (out / "sweep.json").write_text(json.dumps(plan))
    assert "batched" not in read_plan(out)
    result = run_cli("sweep", "--out", out, "--resume", "--jobs", "2", timeout=WAIT)
    assert result.returncode == 0, result.stderr[-500:]
    assert "--batched 2, which was removed" in result.stdout
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["default_seed_1.log", "default_seed_2.log"]
    assert [r["seed"] for r in rows(out / "runs.csv")] == ["1", "2"]


def test_an_older_sweep_plan_holding_the_removed_adam_in_backward_option(tmp_path):
    """Given to every run (in `base`) it changed no result: read as if absent. Swept (`--set
    adam_in_backward=on,off`), its configurations cannot be trained again: said in one line, with what works."""
    out = tmp_path / "old"
    out.mkdir()
    plan = {"format": 1, "base": {"epochs": 2, "adam_in_backward": False}, "seeds": [1], "report": True,
            "configs": [{"name": "default", "settings": {}}]}
    (out / "sweep.json").write_text(json.dumps(plan))
    assert read_plan(out)["base"] == {"epochs": 2}
    plan["configs"] = [{"name": f"adam_in_backward={v}", "settings": {"adam_in_backward": v == "on"}}
                       for v in ("on", "off")]
    (out / "sweep.json").write_text(json.dumps(plan))
    line = assert_one_line_error(run_cli("sweep", "--out", out, "--resume"), 2)
    assert "sweeps adam_in_backward, an option this version no longer has" in line and "train --out RUN" in line


def test_a_sweep_of_a_recipe_runs_its_epochs_not_its_time_budget(tmp_path):
    """--jobs shares the cores: a recipe's budget would cut its runs at unequal, machine-dependent lengths."""
    from vanilla_gan.cli.sweep_plan import make_plan, runs_of
    from vanilla_gan.config import RECIPES

    plan = make_plan({"recipe": "best", "limit": 256}, [("lr", [1e-4, 2e-4])], [1, 2])
    options = [run.options for run in runs_of(plan, tmp_path)]
    assert len(options) == 4 and all(o["epochs"] == RECIPES["best"]["epochs"] and "minutes" not in o for o in options)
    timed = runs_of(make_plan({"recipe": "best", "minutes": 2}, [], [1]), tmp_path)[0].options
    assert timed["minutes"] == 2 and "epochs" not in timed  # a budget the user gave stays theirs


def test_a_sweep_planned_with_an_older_recipe_is_not_resumed_into_the_new_one(tmp_path):
    """The plan keeps its recipes' options: runs not yet started would train this version's recipe beside runs of
    the old one, so a resume says which option changed; runs already started keep their own config.json."""
    from vanilla_gan.cli.sweep_plan import make_plan, runs_of, stale_recipe
    from vanilla_gan.config import RECIPES

    plan = make_plan({"recipe": "best", "limit": 256, "eval_every": 0}, [], [1])
    assert plan["recipes"]["best"]["lr_cooldown"] == RECIPES["best"]["lr_cooldown"] == 0.3
    out = tmp_path / "s"
    out.mkdir()
    assert stale_recipe(plan, runs_of(plan, out)) is None  # as this version made it
    older = {**plan, "recipes": {"best": {k: v for k, v in plan["recipes"]["best"].items() if k != "lr_cooldown"}}}
    (out / "sweep.json").write_text(json.dumps(older))
    line = assert_one_line_error(run_cli("sweep", "--out", out, "--resume"), 2)
    assert "--recipe best (lr_cooldown: 0.3, not given then)" in line and "start a new sweep" in line
    started = runs_of(older, out)[0].folder
    started.mkdir(parents=True)
    (started / "config.json").write_text("{}")
    assert stale_recipe(older, runs_of(older, out)) is None  # its one run resumes with its own options
    assert "recipes" not in make_plan({"limit": 256}, [], [1])  # no recipe, nothing kept
    own = make_plan({"recipe": "best", "limit": 256}, [("lr_cooldown", [0.0, 0.3])], [1])
    own["recipes"]["best"].pop("lr_cooldown")
    own["recipes"]["best"]["minutes"] = 5  # a budget a sweep drops
    assert stale_recipe(own, runs_of(own, tmp_path / "own")) is None  # each run sets its own cooldown


def test_a_sweep_too_old_to_have_kept_its_recipe_warns_before_training_its_new_runs(tmp_path):
    """A plan made before plans kept their recipes cannot tell whether the recipe changed: a resume that trains its
    runs not yet started beside started ones says so, instead of training this version's recipe silently."""
    from vanilla_gan.cli.sweep_plan import make_plan, runs_of, unkept_recipe

    plan = make_plan({"recipe": "best", "limit": 256, "eval_every": 0}, [], [1, 2])
    old = {k: v for k, v in plan.items() if k != "recipes"}
    runs = runs_of(old, tmp_path)
    assert unkept_recipe(old, runs) is None  # nothing started: every run trains the same recipe
    runs[0].folder.mkdir(parents=True)
    (runs[0].folder / "config.json").write_text("{}")
    said = unkept_recipe(old, runs)
    assert said and "--recipe best" in said and "older version" in said
    assert unkept_recipe(plan, runs) is None  # a plan that kept its recipe: stale_recipe decides
    plain = make_plan({"limit": 256}, [], [1, 2])
    assert unkept_recipe(plain, runs_of(plain, tmp_path)) is None  # no recipe named
