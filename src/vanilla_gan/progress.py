"""An epoch's per-step statistics on their way to the user: written on the device by each step, read back every
`log_every` steps (the training loop's only host synchronisation), checked for non-finite losses (agreed by
every process under torchrun) and shown in tqdm's bar (a widget in Jupyter).

    log = StepLog(epoch_stats, done=0, label="epoch 3/56", images_per_step=8, show=True)
    rows, bad = log.read(upto=50, seconds=1.2)     # the rows since the last read; bad: the first non-finite one
    log.close()
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from vanilla_gan import distributed


class StepLog:
    def __init__(self, stats: torch.Tensor, done: int, label: str, images_per_step: int, show: bool):
        self.stats, self.read_upto, self.images_per_step = stats, done, images_per_step
        self.bar = tqdm(total=len(stats), initial=done, desc=label, unit="step", leave=False, dynamic_ncols=True,
                        disable=not show or None)

    def read(self, upto: int, seconds: float) -> tuple[list[list[float]], int | None]:
        """Rows [last read, upto) on the host and the index (in the epoch) of the first with a non-finite loss,
        or -1 when another process found one, or None. A collective under torchrun: every rank calls it."""
        start, rows = self.read_upto, self.stats[self.read_upto:upto].tolist()
        self.read_upto = upto
        bad = next((start + i for i, row in enumerate(rows) if not all(math.isfinite(v) for v in row[:2])), None)
        if distributed.any_rank(bad is not None):
            return rows, -1 if bad is None else bad
        if rows:
            last = rows[-1]
            self.bar.update(len(rows))
            self.bar.set_postfix(loss_D=f"{last[0]:.3f}", loss_G=f"{last[1]:.3f}", D_x=f"{last[2]:.2f}",
                                 D_G_z=f"{last[3]:.2f}", img_s=f"{upto * self.images_per_step / seconds:.0f}")
        return rows, None

    def close(self) -> None:
        self.bar.close()
