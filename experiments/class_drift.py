"""Where the class drift comes from: per digit class, G's share of its samples and D's mean probability "real" of
G's samples and of the real digits, from one checkpoint.

    python experiments/class_drift.py RUN/checkpoints/last.pt          # 5,000 of raw G's samples, noise seed 0

G's samples are read by the bundled digit classifier, the real digits by their labels; D runs in eval mode (no
dropout), its `logits` through a sigmoid. docs/experiments/discriminator.md reads the table.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from vanilla_gan.config import ModelConfig, from_dict
from vanilla_gan.data import load_dataset
from vanilla_gan.evaluation.classifier import extract, load_evaluator
from vanilla_gan.gan.models import build_discriminator
from vanilla_gan.gan.sampling import sample_images
from vanilla_gan.runs.checkpoint import load_generator
from vanilla_gan.runs.rundir import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a run folder or checkpoint file of a digits run")
    parser.add_argument("-n", type=int, default=5000, help="samples of raw G (default: 5000)")
    args = parser.parse_args()
    state = load_checkpoint(args.checkpoint)
    discriminator = build_discriminator(from_dict(ModelConfig, state["model_config"]))
    discriminator.load_state_dict(state["discriminator"])
    discriminator.eval()
    generated = sample_images(load_generator(state, raw=True), args.n, seed=0)
    classes = extract(load_evaluator(), generated)[1].argmax(1).numpy()
    real, labels = load_dataset("digits")
    with torch.no_grad():
        d_fake = torch.sigmoid(discriminator.logits(torch.from_numpy(generated).float() / 127.5 - 1)).numpy()
        d_real = torch.sigmoid(discriminator.logits(real.float() / 127.5 - 1)).numpy()
    labels = labels.numpy()
    print("| class | G's share | D(G(z)) | D(x), real | real share |\n|---|---|---|---|---|")
    for c in range(10):
        print(f"| {c} | {(classes == c).mean():.1%} | {d_fake[classes == c].mean():.2f} | "
              f"{d_real[labels == c].mean():.2f} | {(labels == c).mean():.1%} |")
    print(f"CPU {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}, {np.__name__} {np.__version__}")


if __name__ == "__main__":
    main()
