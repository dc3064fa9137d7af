"""A sweep's plan: its seeds, the --set values, the configurations, sweep.json, the runs, and each run's state.
No training, no processes (sweep.py runs the plan).

    plan = make_plan(base={"epochs": 10}, sets=[parse_set("batch_size=8,32")], seeds=parse_seeds("1-5"))
    runs = runs_of(plan, Path("S"))        # every configuration x seed: PlannedRun(config, seed, folder, options)
    state_of(runs[0])                      # "new", "started" or "done"
    differences(plan, base, sets, seeds)   # what a `--resume` with options asks that the plan does not hold
    stale_recipe(plan, runs)               # a recipe that changed since the plan was made, for runs not started
    unkept_recipe(plan, runs)              # ... or a warning, for a plan too old to have kept its recipes
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vanilla_gan.cli.options import SWITCHES, train_options
from vanilla_gan.config import (
    MAX_SEED,
    MODEL_OPTIONS,
    RECIPES,
    RETIRED,
    TRAIN_OPTIONS,
    ModelConfig,
    TrainConfig,
    option,
    with_recipe,
)
from vanilla_gan.errors import UsageError
from vanilla_gan.fileio import parse_json, read_bounded
from vanilla_gan.runs.checkpoint import epoch_of
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.training.process import resolve_device

PLAN = "sweep.json"
MAX_RUNS = 1000
TUPLE_OPTIONS = ("betas", "g_hidden", "d_hidden")  # alternatives separated by ':', each a comma list
NOT_SWEPT = ("seed",)  # --seeds says which

@dataclass(frozen=True)
class PlannedRun:
    config: str  # the configuration's name, e.g. batch_size=8_betas=0.5,0.999
    seed: int
    folder: Path
    options: dict[str, Any]  # what `train` is given (without --seed and --out)


class RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def parse_seeds(text: str) -> list[int]:
    """'1-8', '1,3,5' or '1-3,10' as a list of distinct seeds, in order."""
    ranges: list[tuple[int, int]] = []
    parts = text.split(",")
    if len(parts) > MAX_RUNS:
        raise UsageError(f"--seeds: more than {MAX_RUNS} seeds (a sweep trains at most {MAX_RUNS} runs)")
    try:
        for part in parts:
            first, _, last = part.strip().partition("-")
            if int(last or first) < int(first):
                raise UsageError(f"--seeds: a range runs upwards (1-8, not 8-1), got {text[:40]!r}")
            ranges.append((int(first), int(last or first)))
    except ValueError:
        raise UsageError(f"--seeds: expected seeds like 1-8 or 1,3,5, got {text[:40]!r}") from None
    # counted before any range is expanded: 0-1000000000 is refused at once, not after filling the memory
    count = sum(last - first + 1 for first, last in ranges)
    if not 1 <= count <= MAX_RUNS or min(first for first, _ in ranges) < 0 or max(r[1] for r in ranges) > MAX_SEED:
        raise UsageError(f"--seeds: expected 1 to {MAX_RUNS} distinct seeds in 0..2**63-1, got {count:,} "
                         f"({text[:40]!r})")
    seeds = [seed for first, last in ranges for seed in range(first, last + 1)]
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds: expected distinct seeds, {text[:40]!r} gives one twice")
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
    parsed, given = [], values.split(":" if name in TUPLE_OPTIONS else ",")
    if len(given) > MAX_RUNS:  # counted before each is checked (argparse takes ~0.1 ms a value)
        raise UsageError(f"--set {text[:40]!r}...: more than {MAX_RUNS} values, more than a sweep's {MAX_RUNS} runs")
    for value in given:
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
    merged = with_recipe(options.get("recipe"), options)
    try:
        ModelConfig(**{k: v for k, v in merged.items() if k in MODEL_OPTIONS}).validate()
        config = TrainConfig(**{k: v for k, v in merged.items() if k in TRAIN_OPTIONS})
        config.validate()
        resolve_device(config.device)  # --device cuda without a GPU: said now, not by every run
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
    count = math.prod(len(values) for _, values in sets) * len(seeds)
    if count > MAX_RUNS:  # counted before the grid is built
        raise UsageError(f"--set: {count:,} configurations x seeds is more than {MAX_RUNS} runs; sweep fewer values")
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
    plan = {"format": 1, "base": base, "configs": configs, "seeds": seeds, "report": report}
    recipes = recipes_of(plan)
    return {**plan, "recipes": recipes} if recipes else plan


def recipes_of(plan: dict[str, Any]) -> dict[str, Any]:
    """The options of the recipes a plan's configurations name, as this version has them (in JSON's types): the
    plan keeps them, so that a resume by a version whose recipe changed can tell."""
    named = {o["recipe"] for o in (plan["base"], *(c["settings"] for c in plan["configs"])) if o.get("recipe")}
    return {name: json.loads(json.dumps(RECIPES[name])) for name in sorted(named)}


def stale_recipe(plan: dict[str, Any], runs: list[PlannedRun]) -> str | None:
    """A run not yet started that this version's recipe would train otherwise than the recipe the plan kept (beside
    runs of the old one), as "--recipe best (lr_cooldown: 0.3, not given then)"; else None. Only what reaches the
    run counts: an option the run sets itself, or a time budget a sweep drops, is no change. A plan made before
    plans kept their recipes cannot tell."""
    kept = plan.get("recipes", {})
    settings = {c["name"]: c["settings"] for c in plan["configs"]}
    for run in runs:
        options = {**plan["base"], **settings[run.config]}
        name = options.get("recipe")
        if name not in kept or state_of(run) != "new":
            continue
        then, now = (json.loads(json.dumps(with_recipe(name, equal_length(options, recipe), {name: recipe})))
                     for recipe in (kept[name], RECIPES[name]))
        changed = sorted(k for k in {**then, **now} if then.get(k) != now.get(k))
        if changed:
            said = [f"{k}: {now.get(k, 'none')}, {then.get(k, 'not given')} then" for k in changed]
            return f"--recipe {name} ({', '.join(said)})"
    return None


def unkept_recipe(plan: dict[str, Any], runs: list[PlannedRun]) -> str | None:
    """For a plan made before plans kept their recipes, which names a recipe and has runs not yet started beside
    started ones: a warning that those train this version's recipe, which may differ from the others'; else None."""
    named = recipes_of(plan)
    states = {state_of(run) == "new" for run in runs}
    if "recipes" in plan or not named or states != {True, False}:
        return None
    return (f"this sweep was made by an older version that did not record its recipes: its runs not yet started "
            f"train this version's --recipe {', '.join(named)}, which may differ from its finished runs' (their "
            f"config.json files say what they trained)")


def runs_of(plan: dict[str, Any], folder: Path) -> list[PlannedRun]:
    return [PlannedRun(c["name"], seed, folder / c["name"] / f"seed_{seed}", equal_length({**plan["base"],
                                                                                          **c["settings"]}))
            for c in plan["configs"] for seed in plan["seeds"]]


def equal_length(options: dict[str, Any], recipe: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run's options with its recipe's epochs but not its time budget: a sweep compares its runs at equal
    epochs, and --jobs shares the cores, which would cut every run at the budget sooner. `recipe`: the recipe's
    options (default: this version's)."""
    recipe = RECIPES.get(options.get("recipe") or "", {}) if recipe is None else recipe
    if "minutes" in recipe and "epochs" not in options and "minutes" not in options:
        return {**options, "epochs": recipe["epochs"]}
    return options


def differences(plan: dict[str, Any], base: dict[str, Any], sets: list[str] | None, seeds: str | None,
                no_report: bool = False) -> list[str]:
    """The options given beside `--resume` that differ from the plan, each as "--limit 500 (the plan: 1000)".
    The sweep's own options, typed again as they were, differ in nothing; an option not given keeps the plan's."""
    found = []
    for name, value in base.items():
        planned = plan["base"].get(name)
        if value != planned:
            was = "not given" if planned is None else _text(planned)
            found.append(f"{option(name)} {_text(value)} (the plan: {was})")
    if seeds is not None and parse_seeds(seeds) != plan["seeds"]:
        found.append(f"--seeds {seeds} (the plan: {','.join(map(str, plan['seeds']))})")
    if sets:
        parsed = [parse_set(text) for text in sets]
        names = [name for name, _ in parsed]
        given = [dict(zip(names, values, strict=True)) for values in itertools.product(*(v for _, v in parsed))]
        if sorted(map(config_name, given)) != sorted(c["name"] for c in plan["configs"]):
            found.append(f"--set {' --set '.join(sets)} (the plan: {', '.join(c['name'] for c in plan['configs'])})")
    if no_report and plan.get("report", True) is not False:
        found.append("--no-report (the plan: runs write report.html)")
    return found


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def read_plan(folder: Path) -> dict[str, Any]:
    path = folder / PLAN
    if not path.exists():
        raise UsageError(f"{folder} is not a sweep (no {PLAN}): start one without --resume")
    try:
        plan = parse_json(read_bounded(path, 16 << 20))
        if not isinstance(plan, dict) or not isinstance(plan.get("configs"), list) or not isinstance(
                plan.get("base"), dict) or not isinstance(plan.get("seeds"), list):
            raise ValueError("not a plan with base, configs and seeds")
        for config in plan["configs"]:
            config["settings"] = {k: tuple(v) if isinstance(v, list) else v for k, v in config["settings"].items()}
        plan["base"] = {k: tuple(v) if isinstance(v, list) else v for k, v in plan["base"].items()
                        if k not in RETIRED}  # an older sweep's option that changed no result: as if not given
        seeds = plan["seeds"]
        batched = plan.pop("batched", 1)  # an older plan's `--batched K` (removed): its runs now go one at a time
        plan["batched_before"] = batched if type(batched) is int else 1
        if not all(type(seed) is int and seed >= 0 for seed in seeds) or len(set(seeds)) != len(seeds) or not seeds:
            raise ValueError("seeds must be distinct integers of 0 or more")
        if not plan["configs"] or any(c["name"] != config_name(c["settings"]) for c in plan["configs"]):
            raise ValueError("a configuration's name does not match its settings")
        for config in plan["configs"]:
            check_options({**plan["base"], **config["settings"]}, f"configuration {config['name']}")
        if not isinstance(plan.get("recipes", {}), dict):
            raise ValueError("recipes must be an object")
    except (ValueError, KeyError, TypeError, AttributeError, UsageError) as exc:
        why = exc if isinstance(exc, (ValueError, UsageError)) else f"{type(exc).__name__}: {exc}"
        raise UsageError(f"{path} is damaged ({why}); start the sweep again in a new folder") from None
    retired = sorted({k for c in plan["configs"] for k in c["settings"] if k in RETIRED})
    if retired:
        raise UsageError(f"{path} sweeps {', '.join(retired)}, an option this version no longer has (it changed no "
                         f"result): resume its started runs one by one with vanilla-gan train --out RUN --resume")
    return plan


def state_of(run: PlannedRun) -> str:
    """'done' (trained to its epochs), 'started' (a folder to --resume) or 'new'."""
    rundir = RunDir(run.folder)
    if not rundir.config_path.exists():
        return "new"
    try:
        epochs = rundir.read_config()["train"]["epochs"]
    except (UsageError, KeyError, TypeError):
        return "started"
    return "done" if rundir.last_checkpoint.exists() and epoch_of(rundir.last_checkpoint) == epochs else "started"
