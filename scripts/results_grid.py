"""The pictures of README and docs/results.md: 64 digits of each checkpoint given, beside 64 real ones, to judge by eye.

    python scripts/results_grid.py runs/first                   # writes docs/default-run.png
    python scripts/results_grid.py runs/long/checkpoints/epoch_0056.pt runs/long -o docs/long-run.png
    python scripts/results_grid.py runs/first runs/best pretrained -o docs/default-best-shipped.png   # the README's

Each RUN is a run folder (its last.pt), a checkpoint file, or `pretrained` (the weights the package ships);
several are drawn side by side, left to right.
The generated digits are 64 samples drawn with noise seed 0 from each checkpoint (the moving average of G, as
`vanilla-gan sample` draws them), the real ones 64 of the embedded digits spread over every class.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vanilla_gan.api.pretrained import pretrained
from vanilla_gan.data import fixed_order, load_dataset
from vanilla_gan.data.images import grid, png_bytes
from vanilla_gan.fileio import atomic_write
from vanilla_gan.gan.sampling import sample_images
from vanilla_gan.runs.checkpoint import load_generator
from vanilla_gan.runs.rundir import load_checkpoint

REPO = Path(__file__).resolve().parent.parent


def labelled(picture: Image.Image, text: str) -> Image.Image:
    canvas = Image.new("L", (picture.width, picture.height + 22), 255)
    canvas.paste(picture, (0, 22))
    ImageDraw.Draw(canvas).text((4, 5), text, fill=0)
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="a run folder or a checkpoint file")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "default-run.png")
    args = parser.parse_args()
    panels = []
    for path in args.runs:
        if str(path) == "pretrained":
            shipped = pretrained(device="cpu")
            generator, epoch, train = shipped.generator(), shipped.provenance["epochs"], shipped.config["train"]
            metrics, name = shipped.metrics or [{}], "shipped weights: epoch"
        else:
            state = load_checkpoint(path)
            generator, epoch, train = load_generator(state), state["epoch"], state["train_config"]
            metrics, name = state.get("metrics") or [{}], "generated: epoch"
        generated = sample_images(generator, 64, seed=0)
        test = metrics[-1].get("c2st_accuracy")  # the run's own two-sample figure (its wall time depends on the load)
        scored = f", two-sample {test:.2f}" if isinstance(test, float) else ""
        panels.append(labelled(grid(generated, scale=2), f"{name} {epoch}, seed {train['seed']}{scored}"))
    real = load_dataset(train["dataset"])[0].numpy()
    real = real[np.sort(fixed_order(len(real))[:64])]
    panels.append(labelled(grid(real, scale=2), "real: 64 training digits"))
    gap = 16
    both = Image.new("L", (sum(panel.width for panel in panels) + gap * (len(panels) - 1), panels[0].height), 255)
    for i, panel in enumerate(panels):
        both.paste(panel, (i * (panel.width + gap), 0))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.output, png_bytes(both))
    print(f"wrote {args.output} ({both.width}x{both.height})")


if __name__ == "__main__":
    main()
