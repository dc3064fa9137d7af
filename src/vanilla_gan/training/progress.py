"""An epoch's per-step statistics on their way to the user: written on the device by each step, read back every
`log_every` steps (the training loop's only host synchronisation), checked for non-finite losses (agreed by
every process under torchrun) and shown in tqdm's bar (a widget in Jupyter), with the whole run's time left;
and the note an epoch line gets when training has slowed down (another program on the CPU).

    log = StepLog(epoch_stats, done=0, label="epoch 3/56", images_per_step=8, show=True)
    rows, bad = log.read(upto=50, seconds=1.2, left=300)  # the rows since the last read; bad: the first non-finite
    log.close()
    slowdown(metrics)                                      # "  [slow: 31% of the first epochs' ...]" or ""
    epoch_line(epoch_label(3, config, elapsed), metrics, best_fid)   # "epoch 3/56  loss_D 1.234  ..."
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import torch
from tqdm.auto import tqdm

from vanilla_gan.config import MAX_EPOCHS
from vanilla_gan.training import distributed

SLOW, FIRST_EPOCHS = 0.5, 3  # an epoch under half the median speed of the first 3 is called slow


class StepLog:
    def __init__(self, stats: torch.Tensor, done: int, label: str, images_per_step: int, show: bool):
        self.stats, self.read_upto, self.images_per_step = stats, done, images_per_step
        self.bar = tqdm(total=len(stats), initial=done, desc=label, unit="step", leave=False, dynamic_ncols=True,
                        disable=not show or None)

    def read(self, upto: int, seconds: float, left: float | None = None) -> tuple[list[list[float]], int | None]:
        """Rows [last read, upto) on the host and the index (in the epoch) of the first with a non-finite loss,
        or -1 when another process found one, or None. `seconds`: the epoch's so far; `left`: the whole run's
        training time left, shown as run_left. A collective under torchrun: every rank calls it."""
        start, rows = self.read_upto, self.stats[self.read_upto:upto].tolist()
        self.read_upto = upto
        bad = next((start + i for i, row in enumerate(rows) if not all(math.isfinite(v) for v in row[:2])), None)
        if distributed.any_rank(bad is not None):
            return rows, -1 if bad is None else bad
        if rows:
            last = rows[-1]
            self.bar.update(len(rows))
            self.bar.set_postfix(loss_D=f"{last[0]:.3f}", loss_G=f"{last[1]:.3f}", D_x=f"{last[2]:.2f}",
                                 D_G_z=f"{last[3]:.2f}", img_s=f"{upto * self.images_per_step / seconds:.0f}",
                                 **({"run_left": clock(left)} if left is not None else {}))
        return rows, None

    def close(self) -> None:
        self.bar.close()


def clock(seconds: float) -> str:
    """A duration as 1:02:03 or 12:34."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def first_speed(metrics: list[dict[str, Any]]) -> float | None:
    """The median images/s of a run's first FIRST_EPOCHS epochs (None before it has them all)."""
    speeds = [m["images_per_s"] for m in metrics[:FIRST_EPOCHS] if "images_per_s" in m]
    return statistics.median(speeds) if len(speeds) == FIRST_EPOCHS else None


def slowdown(metrics: list[dict[str, Any]]) -> str:
    """A note for the epoch line when the last epoch ran at under SLOW of the first epochs' images/s, else ''."""
    first = first_speed(metrics)
    last = metrics[-1].get("images_per_s") if metrics else None
    if first is None or last is None or last >= SLOW * first:
        return ""
    one = metrics[-1].get("threads") in (1, None)  # None: a GPU's epoch, where the count does not matter
    advice = "close it" if one else "close it, or train with --threads 1"
    return (f"  [slow: {last / first:.0%} of the first epochs' {first:,.0f} img/s; is another program using the "
            f"CPU? {advice}]")


def epoch_label(epoch: int, config: Any, elapsed: float) -> str:
    """"epoch 3/56", or under a time budget (a TrainConfig's minutes) "epoch 3 (1.2/5 min)" until its last, and
    "epoch 3/48 (1.2/9 min)" when the epochs cap it too or the budget has planned them (--lr-cooldown)."""
    budget, epochs = config.minutes, config.epochs
    if budget is None or epochs == epoch:
        return f"epoch {epoch}/{epochs}"
    cap = f"/{epochs}" if epochs < MAX_EPOCHS else ""
    return f"epoch {epoch}{cap} ({elapsed / 60:.1f}/{budget:g} min)"


def epoch_line(label: str, metrics: list[dict[str, Any]], best_fid: float) -> str:
    """The line printed at an epoch's end (the last record of `metrics`): losses, D's outputs, speed, time, FID."""
    record = metrics[-1]
    fid = f"  FID {record['fid']:.2f} (best {best_fid:.2f})" if "fid" in record else ""
    return (f"{label}  loss_D {record['loss_d']:.3f}  loss_G {record['loss_g']:.3f}  D(x) {record['d_real']:.2f}  "
            f"D(G(z)) {record['d_fake']:.2f}  {record['images_per_s']:,.0f} img/s  {record['elapsed_s']:.0f} s{fid}"
            f"{slowdown(metrics)}")
