"""TensorBoard logging for `vanilla-gan train --tensorboard` (the optional `tensorboard` extra).

    logger = TensorBoardLogger(run_dir / "tensorboard")    # UsageError with the pip command if not installed
    trainer.epoch_hooks.append(logger)                      # called after each epoch is checkpointed
    ...
    logger.close()

Per epoch (x axis: epoch): epoch/loss_d, epoch/loss_g, epoch/d_real, epoch/d_fake, epoch/images_per_s, every
numeric evaluation metric as eval/NAME, and the fixed-noise grid as the image `samples`. Per `--log-every`
steps (x axis: step; the mean of those steps, which keeps the event file small): step/loss_d, step/loss_g,
step/d_real, step/d_fake. View with `tensorboard --logdir RUN/tensorboard`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vanilla_gan.data.images import grid
from vanilla_gan.errors import UsageError
from vanilla_gan.runs.schema import HEADLINE_METRICS, STEP_KEYS


class TensorBoardLogger:
    def __init__(self, log_dir: Path):
        SummaryWriter = self.require()  # noqa: N806 (torch's class)
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    @staticmethod
    def require() -> Any:
        """torch's SummaryWriter, or a UsageError saying how to install TensorBoard."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise UsageError("--tensorboard needs the tensorboard package: pip install 'vanilla-gan[tensorboard]'"
                             ) from exc
        return SummaryWriter

    def __call__(self, trainer: Any, record: dict[str, Any]) -> None:
        """The epoch hook: `trainer` has just finished epoch record['epoch']."""
        epoch = record["epoch"]
        for key in (*STEP_KEYS, "images_per_s"):
            self.writer.add_scalar(f"epoch/{key}", record[key], epoch)
        for metric in HEADLINE_METRICS:
            if metric.key in record:
                self.writer.add_scalar(f"eval/{metric.key}", record[metric.key], epoch)
        stats = trainer.epoch_stats.cpu().numpy()  # (steps_per_epoch, 4)
        first = record["step"] - len(stats) + 1
        block = trainer.config.log_every
        for start in range(0, len(stats), block):
            means = stats[start:start + block].mean(0)
            last_step = first + min(start + block, len(stats)) - 1
            for key, value in zip(STEP_KEYS, means, strict=True):
                self.writer.add_scalar(f"step/{key}", float(value), last_step)
        picture = np.asarray(grid(trainer.generate_fixed(), scale=2))  # uint8 (H, W)
        self.writer.add_image("samples", picture, epoch, dataformats="HW")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
