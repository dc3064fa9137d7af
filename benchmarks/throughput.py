"""Throughput: a tutorial-style GAN loop against vanilla-gan's trainer, on the same data, in one process.

    python benchmarks/throughput.py                 # batches 100 and 8, 3 alternating rounds of one epoch each
    python benchmarks/throughput.py --rounds 5 --batch-sizes 64 --device cuda
    python benchmarks/throughput.py --device cuda --repeat 6 --batch-sizes 100 --project-batch-size 1024

The tutorial-style loop is what notebooks do: a DataLoader with per-sample PIL -> tensor -> normalise,
Sigmoid + BCELoss, a second G forward with fresh noise for the G step, D's weight gradients computed (and
thrown away) in the G step, and `.item()` on the losses every step. Both train the classic MLP GAN with Adam at lr
2e-4 on the embedded digits. After one warm-up epoch each, the loops alternate for --rounds epochs; the
medians are printed with their ratio and the project's useful GFLOP/s against a matmul peak measured here.
The trainer's figure is its own `images_per_s` (training steps only), the number `metrics.jsonl` logs.
On CUDA the trainer is also timed without its CUDA graph, to show what the graph is worth.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from vanilla_gan.config import IMAGE_PIXELS, ModelConfig, TrainConfig
from vanilla_gan.data import load_dataset
from vanilla_gan.training.trainer import Trainer

# ----------------------------------------------------------------------------- the tutorial-style loop


class PilDigits(Dataset):
    """torchvision's MNIST + Compose([ToTensor(), Normalize((0.5,), (0.5,))]), step for step, without torchvision:
    each item is a PIL image turned into a (1, 28, 28) float tensor in [-1, 1], returned with its label."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = torch.from_numpy(images), torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        picture = Image.fromarray(self.images[i].numpy(), mode="L")  # as torchvision.datasets.MNIST
        x = torch.from_numpy(np.array(picture, np.uint8, copy=True))  # ToTensor
        x = x.view(picture.size[1], picture.size[0], 1).permute((2, 0, 1)).contiguous().to(torch.float32).div(255)
        mean = torch.as_tensor((0.5,), dtype=x.dtype)  # Normalize
        std = torch.as_tensor((0.5,), dtype=x.dtype)
        return x.sub_(mean[:, None, None]).div_(std[:, None, None]), int(self.labels[i])


def tutorial_models() -> tuple[nn.Module, nn.Module]:
    """The original G and D as notebooks write them: nn.Sequential, nn.Dropout, a Sigmoid inside D."""
    G = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                      nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh())
    D = nn.Sequential(nn.Linear(784, 1024), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                      nn.Linear(1024, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                      nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(256, 1), nn.Sigmoid())
    return G, D


class TutorialLoop:
    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, device: torch.device):
        self.device, self.latent = device, 100
        self.G, self.D = (model.to(device) for model in tutorial_models())
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4)
        self.loader = DataLoader(PilDigits(images, labels), batch_size=batch_size, shuffle=True, drop_last=True)
        self.bce = nn.BCELoss()

    def epoch(self) -> float:
        """One pass over the data; returns images/s."""
        start, seen, losses = time.perf_counter(), 0, []
        for real, _ in self.loader:
            real = real.view(-1, 784).to(self.device)
            b = real.shape[0]
            ones, zeros = torch.ones(b, device=self.device), torch.zeros(b, device=self.device)
            self.D.zero_grad()
            fake = self.G(torch.randn(b, self.latent, device=self.device))
            loss_d = self.bce(self.D(real).squeeze(1), ones) + self.bce(self.D(fake.detach()).squeeze(1), zeros)
            loss_d.backward()
            self.opt_d.step()
            self.G.zero_grad()
            fake = self.G(torch.randn(b, self.latent, device=self.device))  # a second G pass, fresh noise
            loss_g = self.bce(self.D(fake).squeeze(1), ones)  # D's weight gradients computed too
            loss_g.backward()
            self.opt_g.step()
            losses.append((loss_d.item(), loss_g.item()))  # a host sync every step
            seen += b
        return seen / (time.perf_counter() - start)


# ----------------------------------------------------------------------------- the project's trainer


class ProjectLoop:
    """The package's Trainer with no run folder: one `train_epoch()` per timed epoch."""

    def __init__(self, images: torch.Tensor, batch_size: int, device: str, precision: str, **options: bool):
        config = TrainConfig(batch_size=batch_size, device=device, precision=precision, seed=0, epochs=10**6,
                             log_every=10**9, **options)
        self.trainer = Trainer(ModelConfig(), config, images, progress=False)

    def epoch(self) -> float:
        return self.trainer.train_epoch()["images_per_s"]


# ----------------------------------------------------------------------------- FLOPs and peak


def useful_flops_per_image(config: ModelConfig) -> float:
    """FLOPs per image of the original GAN's step: what the algorithm needs, not what a loop happens to compute."""
    g = [config.latent_dim, *config.g_hidden, IMAGE_PIXELS]
    d = [IMAGE_PIXELS, *config.d_hidden, 1]
    g_macs = sum(a * b for a, b in zip(g, g[1:], strict=False))
    d_macs = sum(a * b for a, b in zip(d, d[1:], strict=False))
    macs = (g_macs                                      # G forward
            + 3 * d_macs                                # D forward: real, fake (D step), fake (G step)
            + 2 * d_macs + 2 * (d_macs - d[0] * d[1])   # D step backward: weights, inputs past layer 1
            + d_macs                                    # G step: D backward, input gradients only
            + g_macs + (g_macs - g[0] * g[1]))          # G backward: weights, inputs past layer 1
    return 2 * macs


def matmul_peak_gflops(device: torch.device, dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed epochs of each loop (default: 3)")
    parser.add_argument("--batch-sizes", default="100,8",
                        help="the batches to time, each with its own rows (default: 100,8; the default run's is 8)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--no-bf16", action="store_true", help="skip the --precision bf16 trainer")
    parser.add_argument("--repeat", type=int, default=1,
                        help="tile the 10,000 embedded digits this many times, for a longer epoch (default: 1)")
    parser.add_argument("--project-batch-size", type=int,
                        help="the trainer's batch, if not the tutorial's (one batch in --batch-sizes)")
    args = parser.parse_args()

    device = torch.device(args.device)
    images, labels = load_dataset("digits")
    images, labels = images.repeat(args.repeat, 1, 1), labels.repeat(args.repeat)
    loops: dict[tuple[int, str], object] = {}
    for tutorial_batch in (int(b) for b in args.batch_sizes.split(",")):
        batch = args.project_batch_size or tutorial_batch
        loops[tutorial_batch, "tutorial-style"] = TutorialLoop(images.numpy(), labels.numpy(), tutorial_batch, device)
        loops[batch, "vanilla-gan fp32"] = ProjectLoop(images, batch, args.device, "fp32")
        if not args.no_bf16:
            loops[batch, "vanilla-gan bf16"] = ProjectLoop(images, batch, args.device, "bf16")
        if device.type == "cuda":
            loops[batch, "vanilla-gan fp32, no CUDA graph"] = ProjectLoop(images, batch, args.device, "fp32",
                                                                          cuda_graph=False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}"
          f"{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {len(images):,} images per epoch", flush=True)
    for loop in loops.values():  # warm-up
        loop.epoch()
    rates: dict[tuple[int, str], list[float]] = {key: [] for key in loops}
    for r in range(args.rounds):
        for key, loop in loops.items():
            rates[key].append(loop.epoch())
        print(f"round {r + 1}: " + "  ".join(f"{n} (batch {b}) {v[-1]:,.0f}" for (b, n), v in rates.items()),
              flush=True)

    flops = useful_flops_per_image(ModelConfig())
    peak32 = matmul_peak_gflops(device, torch.float32)
    peak16 = matmul_peak_gflops(device, torch.bfloat16)
    print(f"\nmatmul peak here: fp32 {peak32:,.0f} GFLOP/s, bf16 {peak16:,.0f} GFLOP/s; "
          f"useful work {flops / 1e6:.1f} MFLOP per image")
    print("| loop | batch | images/s (median) | vs tutorial, same batch | useful GFLOP/s | % of matmul peak |")
    print("|---|---|---|---|---|---|")
    tutorial = [key for key in rates if key[1] == "tutorial-style"]
    for tutorial_key in tutorial:
        base = statistics.median(rates[tutorial_key])
        batch = args.project_batch_size or tutorial_key[0]
        for (b, name), values in rates.items():
            if b != batch and name != "tutorial-style" or name == "tutorial-style" and (b, name) != tutorial_key:
                continue
            rate = statistics.median(values)
            gflops = rate * flops / 1e9
            peak = peak16 if "bf16" in name else peak32
            print(f"| {name} | {b} | {rate:,.0f} | {rate / base:.2f}x | {gflops:,.0f} | {100 * gflops / peak:.0f}% |")
    print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB",
          file=sys.stderr)


if __name__ == "__main__":
    main()
