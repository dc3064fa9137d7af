"""Is training K GANs as one batched model faster than training them one after another? (issue: sweeps)

    python benchmarks/batched.py                       # K = 1, 2, 4, 8 at batch 8 and 100, on the CPU
    python benchmarks/batched.py --device cuda --batch-sizes 100 --runs 1,16

Both arms do the original GAN's step with the classic sizes (D 784-1024-512-256-1 with dropout 0.3, G
100-256-512-1024-784, LeakyReLU 0.2, fused Adam, non-saturating G loss): "one after another" runs K separate
models with nn.Linear; "batched" stacks the K models' weights, (K, in, out), and uses torch.baddbmm, so one
kernel serves every run. Prints the time of K steps (every run one step) and the speed-up of batching,
measured in the same process, arms interleaved.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

G_SIZES, D_SIZES = (100, 256, 512, 1024, 784), (784, 1024, 512, 256, 1)


def mlp(sizes: tuple[int, ...], dropout: float, out: nn.Module) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.LeakyReLU(0.2)] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers, out)


class Stacked(nn.Module):
    """K MLPs as one: weights (K, in, out), inputs (K, B, in)."""

    def __init__(self, k: int, sizes: tuple[int, ...], dropout: float, tanh: bool):
        super().__init__()
        pairs = zip(sizes, sizes[1:], strict=False)
        self.w = nn.ParameterList([nn.Parameter(torch.randn(k, a, b) * a ** -0.5) for a, b in pairs])
        self.b = nn.ParameterList([nn.Parameter(torch.zeros(k, 1, b)) for b in sizes[1:]])
        self.dropout, self.tanh = dropout, tanh

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, (w, b) in enumerate(zip(self.w, self.b, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < len(self.w) - 1:
                x = F.leaky_relu(x, 0.2)
                if self.dropout:
                    x = F.dropout(x, self.dropout, self.training)
        return torch.tanh(x) if self.tanh else x


def gan_step(G, D, opt_g, opt_d, real, z, ones, zeros) -> None:
    fake = G(z)
    loss_d = F.binary_cross_entropy_with_logits(D(torch.cat([real, fake.detach()], -2)), torch.cat([ones, zeros], -2))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    D.requires_grad_(False)
    loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    D.requires_grad_(True)


def arms(k: int, batch: int, device: torch.device) -> dict[str, callable]:
    adam = {"lr": 2e-4, "betas": (0.5, 0.999), "fused": True}
    separate = []
    for _ in range(k):
        G = mlp(G_SIZES, 0.0, nn.Tanh()).to(device)
        D = mlp(D_SIZES, 0.3, nn.Identity()).to(device)
        separate.append((G, D, torch.optim.Adam(G.parameters(), **adam), torch.optim.Adam(D.parameters(), **adam)))
    Gs, Ds = Stacked(k, G_SIZES, 0.0, True).to(device), Stacked(k, D_SIZES, 0.3, False).to(device)
    opt_g, opt_d = torch.optim.Adam(Gs.parameters(), **adam), torch.optim.Adam(Ds.parameters(), **adam)
    real = torch.rand(k, batch, 784, device=device) * 2 - 1
    ones, zeros = torch.ones(k, batch, 1, device=device), torch.zeros(k, batch, 1, device=device)

    def one_after_another() -> None:
        for i, (G, D, og, od) in enumerate(separate):
            gan_step(G, D, og, od, real[i], torch.randn(batch, 100, device=device), ones[i], zeros[i])

    def batched() -> None:
        gan_step(Gs, Ds, opt_g, opt_d, real, torch.randn(k, batch, 100, device=device), ones, zeros)

    return {"one after another": one_after_another, "batched": batched}


def timed(fn, device: torch.device, steps: int) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-sizes", default="8,100")
    parser.add_argument("--runs", default="1,2,4,8", help="K values")
    parser.add_argument("--seconds", type=float, default=3.0, help="per arm and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device {device}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'batch':>5} {'K':>3} {'one after another':>18} {'batched':>10} {'speed-up':>9}")
    for batch in map(int, args.batch_sizes.split(",")):
        for k in map(int, args.runs.split(",")):
            torch.manual_seed(0)
            fns = arms(k, batch, device)
            for fn in fns.values():  # warm up, and a step count that fills --seconds
                timed(fn, device, 5)
            steps = {name: max(5, int(args.seconds / timed(fn, device, 5))) for name, fn in fns.items()}
            best = {name: min(timed(fn, device, steps[name]) for _ in range(args.repeats)) for name, fn in fns.items()}
            sep, bat = best["one after another"], best["batched"]
            print(f"{batch:>5} {k:>3} {sep * 1e3:>15.2f} ms {bat * 1e3:>7.2f} ms {sep / bat:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
