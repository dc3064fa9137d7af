"""What a run records, named once: the four statistics of every step and the evaluation metrics.

    for stat in STEP_STATS: stat.key, stat.label         # loss_d "loss_D", ..., d_fake "D(G(z))"
    for metric in METRICS: metric.key, metric.label, metric.format(value), metric.better

Every consumer imports these: the trainer (what it logs), the run folder (steps.csv's columns, what
metrics.jsonl keeps per evaluated epoch), the evaluator's table, the report, the plots and TensorBoard.
Adding a metric means adding it here and computing it in evaluation/evaluator.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stat:
    """A statistic of every training step (recorded on the device, read back every --log-every steps)."""

    key: str
    label: str
    colour: str  # in the plots


STEP_STATS = (
    Stat("loss_d", "loss_D", "#1f77b4"),
    Stat("loss_g", "loss_G", "#d62728"),
    Stat("d_real", "D(x)", "#2ca02c"),
    Stat("d_fake", "D(G(z))", "#ff7f0e"),
)
STEP_KEYS = tuple(stat.key for stat in STEP_STATS)


@dataclass(frozen=True)
class Metric:
    """An evaluation metric (evaluation/evaluator.py computes it; evaluation/metrics.py defines it)."""

    key: str
    label: str
    fmt: str  # the format of one value, e.g. "{:.2f}"
    better: str  # "lower", "higher" or "" (neither)
    meaning: str  # a few words for tables and plots
    headline: bool = True  # a number shown in tables, plots and TensorBoard
    per_epoch: bool = True  # kept in metrics.jsonl on evaluated epochs

    def format(self, value: object) -> str:
        return self.fmt.format(value)


def two_sample_sentence(accuracy: float) -> str:
    """What a two-sample accuracy means, in words."""
    return (f"a classifier told these images from real ones {accuracy:.0%} of the time "
            f"(50% = it cannot tell them apart)")


METRICS = (
    Metric("c2st_accuracy", "Two-sample accuracy", "{:.3f}", "lower",
           "a classifier's accuracy at telling them from real; 0.5 = indistinguishable"),
    Metric("c2st_spread", "Two-sample spread", "{:.3f}", "", "between two classifier seeds", headline=False),
    Metric("c2st_optimistic", "Two-sample optimistic", "{}", "",
           "real images the GAN trained on (no held-out split)", headline=False),
    Metric("fid", "FID", "{:.2f}", "lower", "lower is better"),
    Metric("kid", "KID", "{:.4f}", "lower", "lower is better"),
    Metric("inception_score", "Inception Score", "{:.2f}", "higher", "of 10; higher is better"),
    Metric("modes", "Modes covered", "{:d}", "higher", "of 10 classes above 2%"),
    Metric("kl_uniform", "KL to uniform", "{:.3f}", "lower", "class balance; 0 is even"),
    Metric("precision", "Precision", "{:.3f}", "higher", "share of samples that look real"),
    Metric("recall", "Recall", "{:.3f}", "higher", "share of real data covered"),
    Metric("parzen_ll", "Parzen log-likelihood", "{:.1f}", "higher", "nats; higher is better"),
    Metric("parzen_se", "Parzen standard error", "{:.1f}", "", "nats", headline=False),
    Metric("parzen_sigma", "Parzen window", "{:.3f}", "", "sigma chosen on validation images", headline=False,
           per_epoch=False),
    Metric("class_histogram", "Class histogram", "{}", "", "share of samples per digit class", headline=False),
)
METRIC_KEYS = tuple(metric.key for metric in METRICS)
TWO_SAMPLE_KEYS = ("c2st_accuracy", "c2st_spread", "c2st_optimistic")  # only where the two-sample test ran
EPOCH_METRIC_KEYS = tuple(metric.key for metric in METRICS if metric.per_epoch)
HEADLINE_METRICS = tuple(metric for metric in METRICS if metric.headline)


def epoch_metrics(result: dict) -> dict:
    """What metrics.jsonl keeps of an evaluation (evaluate.compute_metrics' result) on an evaluated epoch: the
    EPOCH_METRIC_KEYS it has (the two-sample test's only where it ran), and `real_floor` with the headline
    metrics of real data (the report shows them side by side)."""
    floor = result.get("real_floor", {})
    return {**{key: result[key] for key in EPOCH_METRIC_KEYS if key in result},
            "real_floor": {m.key: floor[m.key] for m in HEADLINE_METRICS if m.key in floor}}
