"""Training-health notes: what the metrics log says about a run, in words, with what users usually try.

    notes = health_notes(RunDir(run_dir).read(), real_diversity=diversity(real_images[:64]))
    print(format_notes(notes))           # also shown in report.html and printed at the end of `train`

The checks (each note says what it found, what it means and what to try):
- a NaN/inf stop (stop.json, written by `train` when the losses became non-finite);
- D winning outright: D(G(z)) below 0.1 for the last many epochs while loss_G rises;
- G collapsing: the fixed-noise samples' diversity (mean pairwise pixel distance of the 64 digits in each
  epoch's grid) falling well below its peak and below real digits', or the evaluator's class histogram
  missing classes or dominated by one;
- training that slowed down: an epoch under half the first epochs' images/s (another program on the CPU);
- too short to judge, and an all-clear when nothing was found.
The notes on D's outputs (D winning, the all-clear's reading of D(x) and D(G(z))) assume the original GAN's
BCE losses, where sigmoid(score) is D's probability of "real": a run with a user's own objective (config.json's
"objective" not one of config.G_LOSSES) gets a note saying they do not apply instead.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import numpy as np

from vanilla_gan.config import G_LOSSES, TrainConfig
from vanilla_gan.data.images import split_grid
from vanilla_gan.runs.runlog import RunRecord
from vanilla_gan.training.progress import SLOW, first_speed

D_FAKE_LOW = 0.1  # D(G(z)) below this: D rejects nearly every generated digit
AVERAGE_CONTRAST = 0.9  # the moving average's images below this share of G's contrast: it has not caught up
DIVERSITY_DROP = 0.75  # latest diversity below this share of its peak (and of real digits') = collapsing
MIN_EPOCHS = 10  # fewer epochs than this: trends are not judged


@dataclass
class Note:
    level: str  # "problem", "warning", "info" or "ok"
    title: str
    meaning: str
    advice: str = ""

    def line(self) -> str:
        return f"[{self.level}] {self.title}"


def diversity(images: np.ndarray) -> float:
    """Mean pairwise L2 distance of uint8 images (N, H, W[, 3]) with pixels scaled to [0, 1]."""
    x = images.reshape(len(images), -1).astype(np.float64) / 255
    sq = (x * x).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0)
    n = len(x)
    return float(np.sqrt(d2)[~np.eye(n, dtype=bool)].mean()) if n > 1 else 0.0


def _image_shape(run: RunRecord) -> tuple[int, ...]:
    """The run's image shape from config.json (28x28 grey when it does not say)."""
    model = run.config.get("model") if isinstance(run.config, dict) else None
    shape = model.get("image_shape") if isinstance(model, dict) else None
    ok = isinstance(shape, list) and len(shape) in (2, 3) and all(isinstance(v, int) and v > 0 for v in shape)
    return tuple(shape) if ok else (28, 28)


def grid_diversity(run: RunRecord) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, diversity of that epoch's fixed-noise grid)."""
    values, shape = [], _image_shape(run)
    for epoch, path in run.grids:
        try:
            values.append((epoch, diversity(split_grid(path, run.grid_size, shape=shape))))
        except ValueError:
            continue  # not a grid of this run's size (edited): its diversity is unknown
    return np.array([v[0] for v in values], dtype=int), np.array([v[1] for v in values], dtype=float)


def health_notes(run: RunRecord, real_diversity: float | None = None,
                 data_classes: list[int] | None = None, found: list[Note] | None = None) -> list[Note]:
    """The notes for a run, problems first; an 'ok' note when nothing was found.

    `real_diversity` is `diversity` of 64 training images; `data_classes` the digit classes present in the
    training data (all 10 when None): a class the data lacks is not counted as missing from the samples.
    `found`: notes the caller made from the checkpoint (`average_lag`), counted with these.
    """
    notes: list[Note] = list(found or [])
    if run.stop:
        notes.append(Note(
            "problem", "Training stopped: the losses became NaN or infinite",
            f"{run.stop.get('message', '')} A step produced a non-finite loss: the weights of D or G blew up, "
            f"usually from too large a learning rate (or bf16 overflow); the checkpoint kept is the last good epoch.",
            "Start a new run with a lower --lr (e.g. 0.0001), or --precision fp32 if the run used bf16; "
            "`vanilla-gan sample` still works on the kept checkpoint."))
    epochs = len(run.metrics)
    if epochs == 0:
        return notes + [Note("info", "No complete epoch yet", "The run has no epoch in metrics.jsonl.")]
    objective = own_objective(run)
    notes += _d_winning(run) if objective is None else [Note(
        "info", f"Your own objective ({objective}): the notes on D's outputs do not apply",
        "The checks of D(x) and D(G(z)) (D winning outright) assume the original GAN's BCE losses, where "
        "sigmoid(D's score) is D's probability that an image is real and loss_G rises as D wins; with another "
        "objective neither need hold, so they were not made. The notes on G's samples and on speed still apply.")]
    notes += _collapse(run, real_diversity, data_classes)
    notes += _slowdown(run)
    if data_classes is not None and len(data_classes) < 10:
        why = " (a small --limit may leave some out)" if run.train.get("limit") else ""
        notes.append(Note(
            "info", f"The training data holds {len(data_classes)} of the 10 classes: "
                    f"{', '.join(map(str, data_classes))}",
            f"G can only learn the classes it is shown{why}; the class checks count these alone.",
            "Train on all the data (no --limit) for all ten digits."))
    if epochs < MIN_EPOCHS:
        notes.append(Note(
            "info", f"Too early to judge: {epochs} epoch{'s' if epochs != 1 else ''}",
            "The checks above look for trends over many epochs; after a few epochs G's images are still "
            f"forming (a default run trains {TrainConfig.epochs} epochs; on the embedded digits they are legible "
            f"after about 15, and all ten digits show after about 30).",
            f"Continue the run: vanilla-gan train --out {shlex.quote(str(run.run_dir))} --resume --epochs N."))
    if not any(n.level in ("problem", "warning") for n in notes) and epochs >= MIN_EPOCHS:
        d_fake = run.metrics[-1]["d_fake"]
        d_real = run.metrics[-1]["d_real"]
        notes.append(Note("ok", "No problem found", "The samples are not collapsing." if objective else (
            f"D and G are still playing the game: in the last epoch D(x) averaged {d_real:.2f} and D(G(z)) "
            f"{d_fake:.2f} (D is not rejecting every generated image), and the samples are not collapsing.")))
    order = {"problem": 0, "warning": 1, "info": 2, "ok": 3}
    return sorted(notes, key=lambda n: order[n.level])


def contrast(images: np.ndarray) -> float:
    """How far uint8 images' pixels sit from mid-grey, 0 (all grey) to 1 (all black or white)."""
    return float(np.abs(images.astype(np.float64) / 127.5 - 1).mean())


def average_lag(average: np.ndarray, raw: np.ndarray, run_dir: object) -> list[Note]:
    """A warning when the moving average of G's weights draws images much greyer than G's own (the same z): in a
    short run it still averages in G's first, unformed weights."""
    ours, gs = contrast(average), contrast(raw)
    if gs == 0 or ours >= AVERAGE_CONTRAST * gs:
        return []
    return [Note(
        "warning", "The moving average of G's weights has not caught up with G",
        f"Samples, grids and evaluations use a moving average of G's weights (--ema-decay); this early in the run "
        f"it still holds G's first, unformed weights, so its images are greyer than G's own (contrast "
        f"{ours:.2f} against {gs:.2f}, on the same noise).",
        f"See G itself: vanilla-gan sample {shlex.quote(str(run_dir))} --raw -n 64 -o raw.png; the average "
        f"catches up as training goes on (--resume --epochs N), or a smaller --ema-decay follows G sooner.")]


def own_objective(run: RunRecord) -> str | None:
    """The name of the user's own objective the run trained with (config.json), or None for the built-in one."""
    name = run.config.get("objective") if isinstance(run.config, dict) else None
    return name[:64] if isinstance(name, str) and name not in G_LOSSES else None


def _d_winning(run: RunRecord) -> list[Note]:
    epochs, d_fake = run.series("d_fake")
    _, loss_g = run.series("loss_g")
    stretch = 0  # trailing epochs with D(G(z)) below the threshold
    while stretch < len(d_fake) and d_fake[-1 - stretch] < D_FAKE_LOW:
        stretch += 1
    needed = max(3, len(d_fake) // 10)
    if len(d_fake) < 3 or stretch < needed or not loss_g[-1] > loss_g[-stretch]:
        return []
    return [Note(
        "warning", f"D is winning outright: D(G(z)) below {D_FAKE_LOW} for the last {stretch} epochs",
        f"Since epoch {epochs[-stretch]}, D has rejected nearly every generated image (D(G(z)) "
        f"{d_fake[-stretch:].mean():.3f} on average) while loss_G rose from {loss_g[-stretch]:.2f} to "
        f"{loss_g[-1]:.2f}. G then learns little from D's verdicts, and the samples stop improving or get worse.",
        "Pick an earlier checkpoint (checkpoints/best.pt with --eval-every); for a new run weaken D "
        "(--dropout 0.5, --d-hidden 512,256,128) or lower --lr; keep the non-saturating --g-loss.")]


def _collapse(run: RunRecord, real_diversity: float | None, data_classes: list[int] | None) -> list[Note]:
    notes = []
    epochs, values = grid_diversity(run) if run.grids else (np.array([]), np.array([]))
    if len(values) >= 3:
        peak = int(values.argmax())
        last = values[-1]
        below_real = real_diversity is None or last < DIVERSITY_DROP * real_diversity
        if peak < len(values) - 1 and last < DIVERSITY_DROP * values[peak] and below_real:
            real = f" (real images: {real_diversity:.2f})" if real_diversity is not None else ""
            notes.append(Note(
                "warning", "G may be collapsing: its samples are becoming alike",
                f"The 64 fixed-noise images' mean pairwise distance fell from {values[peak]:.2f} at epoch "
                f"{epochs[peak]} to {last:.2f} at epoch {epochs[-1]}{real}: G is mapping different z to "
                f"similar images (mode collapse), often followed by D winning and G jumping to another mode.",
                "Use an earlier checkpoint; for a new run lower --lr, use --betas 0.5,0.999, or try another "
                "--seed: a vanilla GAN has no remedy for collapse built in."))
    histograms = [m["class_histogram"] for m in run.metrics if m.get("class_histogram")]
    if histograms:
        classes = data_classes or list(range(10))
        histogram = histograms[-1]
        missing = [str(d) for d in classes if histogram[d] <= 0.02]
        share, crowded = max(histogram), max(0.25, 2.5 / len(classes))
        if missing or share > crowded:
            where = "" if len(classes) == 10 else " in its data"
            notes.append(Note(
                "warning", f"G draws {len(classes) - len(missing)} of the {len(classes)} digit classes{where}"
                + (f" (missing: {', '.join(missing)})" if missing else "")
                + (f"; one class holds {share:.0%}" if share > crowded else ""),
                "In the last evaluation the digit classifier put 2% or less of the samples in some classes, "
                "or far more than a tenth in one: G covers only part of the data (partial mode collapse), "
                "or it is still early and some digits have not formed yet.",
                "Train longer if FID is still falling; otherwise try another --seed or a lower --lr."))
    return notes


def format_notes(notes: list[Note]) -> str:
    """Plain text for the terminal: one block per note."""
    blocks = []
    for note in notes:
        text = f"{note.line()}\n    {note.meaning}"
        if note.advice:
            text += f"\n    Try: {note.advice}"
        blocks.append(text)
    return "\n".join(blocks)


def _slowdown(run: RunRecord) -> list[Note]:
    first = first_speed(run.metrics)
    slow = [m for m in run.metrics if first is not None and m.get("images_per_s", first) < SLOW * first]
    if not slow:
        return []
    worst = min(slow, key=lambda m: m["images_per_s"])
    epochs = ", ".join(str(m["epoch"]) for m in slow[:8]) + (" ..." if len(slow) > 8 else "")
    return [Note(
        "warning", f"Training slowed down: {len(slow)} epoch{'s' if len(slow) != 1 else ''} ran at under "
                   f"{SLOW:.0%} of the first epochs' speed",
        f"The first epochs trained {first:,.0f} images/s; epoch{'s' if len(slow) != 1 else ''} {epochs} fell below "
        f"{SLOW * first:,.0f} (epoch {worst['epoch']}: {worst['images_per_s']:,.0f}). The numbers are not "
        f"affected, only the time: usually another program was using the CPU, whose threads then wait for each "
        f"other.",
        "Close other work while training." + ("" if all(m.get("threads") in (1, None) for m in slow) else
        " Or fix the thread count with --threads 1 (or OMP_NUM_THREADS=1), which shares a busy CPU best.")
        + " Each epoch's thread count is in metrics.jsonl.")]
