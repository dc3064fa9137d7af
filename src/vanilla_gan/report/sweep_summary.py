"""A sweep's summary: per configuration, the median and spread over its seeds of every final metric, ranked by
median FID, and which differences from the best configuration the seeds support.

    summary = write_summary(folder, plan, runs)   # S/summary.csv, S/runs.csv, S/summary.html; summary.text

The test behind a mark ("beyond the seed spread") is stated and exact: every seed of one configuration did
better than every seed of the best, or every one worse (their min-max ranges do not overlap), AND that outcome
is rare when the two are alike. Were the two configurations the same, any order of their m + n results would be
as likely, so the ranges fail to overlap with probability 2 / C(m + n, m): 1 in 3 with 2 seeds each, 1 in 10
with 3, 2.9% with 4 and 0.8% with 5. A mark needs that probability at most 5% (`ALPHA`), so with fewer than 4
seeds each nothing is marked, and the summary says there are too few. It is a test per comparison (each
configuration and metric against the best), uncorrected for how many are made: an unmarked difference may still
be real, and more seeds would tell.

Configurations that ran the same epochs at different batch sizes (or --d-steps, --limit) took different numbers
of steps; the summary says so, since an epoch is then not the same amount of training.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vanilla_gan.config import is_finite_number
from vanilla_gan.fileio import atomic_write
from vanilla_gan.report.plots import pyplot
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.runs.schema import METRICS, STEP_STATS

# (key, label, better): the metrics summarised, in the order of the tables
COLUMNS = [(m.key, m.label, m.better) for m in METRICS if m.headline] + \
          [(s.key, s.label, "") for s in STEP_STATS] + [("images_per_s", "images/s", "higher"),
                                                         ("elapsed_s", "training s", "lower")]
SPREAD = ("median", "q1", "q3", "min", "max")
ALPHA = 0.05  # the most chance, for two alike configurations, that a marked difference may have


def chance_apart(m: int, n: int) -> float:
    """The probability that m and n seeds' ranges do not overlap when both configurations are alike (every order
    of the m + n results equally likely): 2 / C(m + n, m)."""
    return min(1.0, 2 / math.comb(m + n, m))


@dataclass
class Summary:
    csv: Path
    runs_csv: Path
    html: Path
    text: str


def final_records(runs: list[Any]) -> list[tuple[Any, dict[str, Any] | None, list[dict[str, Any]]]]:
    """(run, its last metrics record or None, all its records) for each run."""
    found = []
    for run in runs:
        try:
            records = RunDir(run.folder).read_metrics()
        except Exception:  # not started, or unreadable: counted as missing
            records = []
        found.append((run, records[-1] if records else None, records))
    return found


def spread(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    q1, median, q3 = np.percentile(a, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "min": float(a.min()), "max": float(a.max()),
            "n": len(a)}


def summarise(plan: dict[str, Any], runs: list[Any]) -> list[dict[str, Any]]:
    """One entry per configuration, best first: name, settings, finished/planned seeds, stats, curves, beyond."""
    found = final_records(runs)
    configs = []
    for config in plan["configs"]:
        mine = [(run, last, records) for run, last, records in found if run.config == config["name"]]
        finished = [(run, last, records) for run, last, records in mine if last is not None]
        stats = {}
        for key, _, _ in COLUMNS:
            values = [float(last[key]) for _, last, _ in finished if is_finite_number(last.get(key))]
            if values:
                stats[key] = spread(values)
        curves = {run.seed: [(r["epoch"], r["fid"]) for r in records if is_finite_number(r.get("fid"))]
                  for run, _, records in finished}
        configs.append({"name": config["name"], "settings": config["settings"], "finished": len(finished),
                        "planned": len(mine), "stats": stats, "curves": curves,
                        "seeds": {run.seed: last for run, last, _ in finished}})
    configs.sort(key=lambda c: c["stats"].get("fid", {}).get("median", math.inf))
    best = configs[0] if configs else None
    for config in configs:  # ranges over seeds that do not overlap the best's, where that is rare by chance
        config["beyond"] = {key for key, _, better in COLUMNS if better and config is not best
                            and key in config["stats"] and key in best["stats"]
                            and chance_apart(config["stats"][key]["n"], best["stats"][key]["n"]) <= ALPHA
                            and (config["stats"][key]["min"] > best["stats"][key]["max"]
                                 or config["stats"][key]["max"] < best["stats"][key]["min"])}
    return configs


def cautions(configs: list[dict[str, Any]]) -> list[str]:
    """What the marks cannot say at these seeds, and configurations compared at equal epochs but unequal steps."""
    notes = []
    best, others = (configs[0], configs[1:]) if configs else (None, [])
    pairs = [(c["finished"], best["finished"]) for c in others if c["finished"] and best["finished"]]
    if pairs and all(chance_apart(m, n) > ALPHA for m, n in pairs):
        m, n = min(pairs, key=lambda pair: chance_apart(*pair))
        notes.append(f"too few seeds to mark any difference: with {m} and {n} seeds, two alike configurations "
                     f"have ranges that do not overlap {chance_apart(m, n):.0%} of the time by chance alone; "
                     f"4 seeds each bring that to 2.9% (a mark needs at most {ALPHA:.0%})")
    ends = {c["name"]: {(int(last["epoch"]), int(last["step"])) for last in c["seeds"].values()
                        if is_finite_number(last.get("epoch")) and is_finite_number(last.get("step"))}
            for c in configs}
    epochs = {epoch for places in ends.values() for epoch, _ in places}
    steps = {name: sorted({step for _, step in places}) for name, places in ends.items() if places}
    if len(epochs) == 1 and len({tuple(s) for s in steps.values()}) > 1:
        each = ", ".join(f"{name} {v[0]:,}" + (f"-{v[-1]:,}" if len(v) > 1 else "") for name, v in steps.items())
        notes.append(f"compared at equal epochs ({epochs.pop()}) but unequal steps ({each}): an epoch is not "
                     f"the same amount of training in each")
    return notes


def write_csvs(folder: Path, configs: list[dict[str, Any]]) -> tuple[Path, Path]:
    summary, runs = io.StringIO(), io.StringIO()
    writer = csv.writer(summary, lineterminator="\n")
    writer.writerow(["rank", "configuration", "seeds_finished", "seeds_planned"]
                    + [f"{key}_{part}" for key, _, _ in COLUMNS for part in SPREAD] + ["beyond_seed_spread"])
    for rank, c in enumerate(configs, start=1):
        cells = [c["stats"].get(key, {}).get(part, "") for key, _, _ in COLUMNS for part in SPREAD]
        writer.writerow([rank, c["name"], c["finished"], c["planned"], *cells, " ".join(sorted(c["beyond"]))])
    writer = csv.writer(runs, lineterminator="\n")
    writer.writerow(["configuration", "seed", "epoch"] + [key for key, _, _ in COLUMNS])
    for c in configs:
        for seed, last in sorted(c["seeds"].items()):
            writer.writerow([c["name"], seed, last.get("epoch")] + [last.get(key, "") for key, _, _ in COLUMNS])
    return (atomic_write(folder / "summary.csv", summary.getvalue().encode()),
            atomic_write(folder / "runs.csv", runs.getvalue().encode()))


def cell(stats: dict[str, float] | None, fmt: str = "{:.4g}") -> str:
    if not stats:
        return "–"
    median = fmt.format(stats["median"])
    if stats["n"] == 1:
        return median
    return f"{median} [{fmt.format(stats['q1'])}–{fmt.format(stats['q3'])}] ({fmt.format(stats['min'])}–" \
           f"{fmt.format(stats['max'])})"


def text_table(configs: list[dict[str, Any]]) -> str:
    shown = [("fid", "FID"), ("inception_score", "IS"), ("precision", "precision"), ("recall", "recall")]
    lines = ["configurations by median FID; median [interquartile range] (min–max) over the seeds; "
             f"* = beyond the seed spread of the best (every seed on one side of every seed of the best, "
             f"which alike configurations do by chance at most {ALPHA:.0%} of the time at these seeds)"]
    for rank, c in enumerate(configs, start=1):
        parts = [f"{label} {cell(c['stats'].get(key))}{'*' if key in c['beyond'] else ''}" for key, label in shown
                 if key in c["stats"]]
        lines.append(f"{rank}. {c['name']} ({c['finished']}/{c['planned']} seeds): " + ("; ".join(parts) or
                                                                                      "no metrics yet"))
    return "\n".join(lines + [f"note: {note}" for note in cautions(configs)])


def curves_png(configs: list[dict[str, Any]]) -> bytes | None:
    """FID over the epochs, one thin line per seed, one colour per configuration."""
    if not any(points for c in configs for points in c["curves"].values()):
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    try:
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, c in enumerate(configs):
            for j, (_seed, points) in enumerate(sorted(c["curves"].items())):
                if points:
                    epochs, fids = zip(*points, strict=True)
                    ax.plot(epochs, fids, color=colours[i % len(colours)], alpha=0.7, lw=1, marker=".",
                            label=c["name"] if j == 0 else None)
        fids = [f for c in configs for points in c["curves"].values() for _, f in points]
        wide = min(fids) > 0 and max(fids) / min(fids) > 5  # a log scale when FID falls by a factor
        ax.set(xlabel="epoch", ylabel="FID (lower is better)", yscale="log" if wide else "linear",
               title="FID of every seed")
        ax.xaxis.get_major_locator().set_params(integer=True)  # epochs are whole
        ax.legend(fontsize=8)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def render(plan: dict[str, Any], configs: list[dict[str, Any]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(label)}</th>" for _, label, _ in COLUMNS)
    rows = []
    for rank, c in enumerate(configs, start=1):
        cells = "".join(f"<td class='{'beyond' if key in c['beyond'] else ''}'>{e(cell(c['stats'].get(key)))}</td>"
                        for key, _, _ in COLUMNS)
        rows.append(f"<tr><td>{rank}</td><th>{e(c['name'])}</th><td>{c['finished']}/{c['planned']}</td>{cells}</tr>")
    png = curves_png(configs)
    figure = (f"<img alt='FID of every seed over the epochs' src='data:image/png;base64,"
              f"{base64.b64encode(png).decode('ascii')}'>" if png else "<p>No evaluated epochs yet.</p>")
    shared = ", ".join(f"{k}={v}" for k, v in plan["base"].items()) or "the defaults"
    written = time.strftime("%Y-%m-%d %H:%M")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vanilla-gan sweep</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:110em}} table{{border-collapse:collapse;
font-size:0.85em}} td,th{{border:1px solid #ccc;padding:0.3em 0.5em;text-align:left;white-space:nowrap}}
td.beyond{{background:#fde2c8;font-weight:bold}} .scroll{{overflow-x:auto}} img{{max-width:100%}}</style></head>
<body><h1>Sweep: {len(configs)} configuration(s) × {len(plan['seeds'])} seed(s)</h1>
<p>Every run shares {e(shared)}; seeds {e(', '.join(map(str, plan['seeds'])))}. Written {e(written)}.</p>
<p>Each cell: the median over the seeds, [the interquartile range] and (the minimum–maximum), of the run's final
metrics. Configurations are ranked by median FID. A <span style="background:#fde2c8">highlighted</span> cell differs
from the best configuration by more than the seed spread: their min–max ranges do not overlap, which two alike
configurations do by chance at most {ALPHA:.0%} of the time at these seeds (2 / C(m + n, m) for m and n seeds).</p>
{''.join(f"<p><strong>Note:</strong> {e(note)}.</p>" for note in cautions(configs))}
<div class="scroll"><table><tr><th>rank</th><th>configuration</th><th>seeds</th>{head}</tr>{''.join(rows)}</table></div>
<h2>Every seed's FID over the epochs</h2>{figure}</body></html>
"""


def write_summary(folder: Path, plan: dict[str, Any], runs: list[Any]) -> Summary:
    configs = summarise(plan, runs)
    summary_csv, runs_csv = write_csvs(folder, configs)
    page = atomic_write(folder / "summary.html", render(plan, configs).encode())
    return Summary(summary_csv, runs_csv, page, text_table(configs))
