"""explore.html: one self-contained page where G draws and D judges in the browser, in plain JavaScript.

    html = render(weights, "run try", ["epoch 56, seed 2"])       # shipped.Weights: G's average, raw G, D
    html = checkpoint_page(state, "try")                           # a run's checkpoint (rounded to float16)
    html = weights_page(shipped.load_weights())                    # the shipped weights, with their provenance

The page embeds G's moving average and D (and G's raw weights with `with_raw`) as base64 float16, and
assets/explore.js computes their layers with Float32Arrays: a grid of new images that refills, sliders over
the latent directions that change G's output most, a walk between two images, a canvas to draw on with D's
verdict as one draws, and the same z through raw G and the average. Its Content-Security-Policy forbids
every request (no network, no file): it needs nothing but itself. The digits' page is about 8 MB (11.9 MB with
raw G): float16 G and D are 5.9 MB, base64 adds a third.
"""

from __future__ import annotations

import base64
import importlib.resources
import json
import math
import os
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vanilla_gan.data import fixed_order, limit_images
from vanilla_gan.data.sources import load_images
from vanilla_gan.errors import UsageError, VanillaGanError
from vanilla_gan.fileio import atomic_write, make_folder
from vanilla_gan.gan.models import ConvDiscriminator, ConvGenerator, MinibatchStd, PairDiscriminator
from vanilla_gan.runs.shipped import Weights, from_checkpoint

DIRECTIONS = 6  # sliders
SPOT_REAL, SPOT_BYTES = 200, 1_500_000  # real images embedded for spot-the-fake: at most this many, and bytes
SHOWN_REAL = 64  # the real images the README's picture shows (scripts/results_grid.py): fixed_order's first 64
DIRECTION_SAMPLES = 2048
MAX_FIT_LATENT = 1024  # above this, fixed random directions instead of a fit (the fit solves a latent x latent system)
MAX_WEIGHT_BYTES = 64 * 10**6  # float16 weights in one page: a browser holds the page's text and the weights twice
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"


@torch.no_grad()
def encode(network: nn.Module, input_shape: tuple[int, ...]) -> tuple[str, list[dict[str, Any]]]:
    """A network as the page computes it: its layers in the order its forward pass calls them (found by running
    it once on zeros of `input_shape`, one item, in eval mode), each an op for assets/explore.js with its
    tensors as base64 float16 (one blob for all, in op order, each tensor as PyTorch stores it). D is run
    through its `logits`; the conv networks' channels-last images become channels-first and back; the two halves
    of --d-net mlp+conv are one "sum" op of two op lists."""
    ops, tensors = _ops(network, input_shape)
    blob = b"".join(t.detach().cpu().float().half().numpy().astype("<f2").tobytes() for t in tensors)
    return base64.b64encode(blob).decode("ascii"), ops


def _ops(network: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[dict[str, Any]], list[torch.Tensor]]:
    if isinstance(network, PairDiscriminator):
        (mlp, mlp_tensors), (conv, conv_tensors) = _ops(network.mlp, input_shape), _ops(network.conv, input_shape)
        return [{"op": "sum", "parts": [mlp, conv]}], mlp_tensors + conv_tensors
    calls: list[tuple[nn.Module, tuple[int, ...]]] = []
    hooks = [m.register_forward_hook(lambda m, inputs, _: calls.append((m, tuple(inputs[0].shape[1:]))))
             for m in network.modules() if _op_of(m)]
    try:
        network.eval()
        x = torch.zeros(1, *input_shape)
        network.logits(x) if hasattr(network, "logits") else network(x)
    finally:
        for hook in hooks:
            hook.remove()
    ops: list[dict[str, Any]] = []
    tensors: list[torch.Tensor] = []
    if isinstance(network, ConvDiscriminator):
        ops.append({"op": "to_chw", "channels": network.channels})
    for module, shape in calls:
        op, params = _op_of(module)(module, shape)
        ops.append(op)
        tensors += params
    if isinstance(network, ConvGenerator):
        ops.append({"op": "to_hwc", "channels": input_channels(network.image_shape)})
    return ops, tensors


def _op_of(module: nn.Module) -> Any:
    """The op writer of a layer the page computes (a spectrally normalised layer is a subclass), else None."""
    return next((write for kind, write in _OPS.items() if isinstance(module, kind)), None)


def input_channels(shape: tuple[int, ...]) -> int:
    return shape[2] if len(shape) == 3 else 1


def _conv(module: nn.Conv2d | nn.ConvTranspose2d, shape: tuple[int, ...]) -> tuple[dict, list]:
    kind = "conv_t" if isinstance(module, nn.ConvTranspose2d) else "conv"
    op = {"op": kind, "cin": module.in_channels, "cout": module.out_channels, "k": module.kernel_size[0],
          "stride": module.stride[0], "pad": module.padding[0], "height": shape[1], "width": shape[2]}
    return op, [module.weight, module.bias]


def _batch_norm(module: nn.modules.batchnorm._BatchNorm, shape: tuple[int, ...]) -> tuple[dict, list]:
    op = {"op": "batch_norm", "c": module.num_features, "per": math.prod(shape[1:]), "eps": module.eps}
    return op, [module.weight, module.bias, module.running_mean, module.running_var]


_OPS = {
    nn.Linear: lambda m, shape: ({"op": "linear", "nin": m.in_features, "nout": m.out_features}, [m.weight, m.bias]),
    nn.Conv2d: _conv,
    nn.ConvTranspose2d: _conv,
    nn.BatchNorm1d: _batch_norm,
    nn.BatchNorm2d: _batch_norm,
    nn.LeakyReLU: lambda m, shape: ({"op": "leaky_relu", "slope": m.negative_slope}, []),
    nn.ReLU: lambda m, shape: ({"op": "relu"}, []),
    nn.Tanh: lambda m, shape: ({"op": "tanh"}, []),
    MinibatchStd: lambda m, shape: ({"op": "minibatch_std"}, []),
}


@torch.no_grad()
def latent_directions(generator: nn.Module, count: int = DIRECTIONS, samples: int = DIRECTION_SAMPLES,
                      seed: int = 0) -> tuple[torch.Tensor, str]:
    """`count` orthonormal directions in z (count, latent), and how they were found: the directions along which
    G's output changes most, by a linear fit of G's output on z over `samples` random z (the leading
    eigenvectors of A Aᵀ, A the fit's (latent, pixels) matrix). Noise from its own torch.Generator."""
    latent = generator.config.latent_dim
    count = min(count, latent)
    noise = torch.Generator().manual_seed(seed)
    if latent > MAX_FIT_LATENT:
        directions = torch.linalg.qr(torch.randn(latent, count, generator=noise, dtype=torch.float64))[0].T
        return directions.float(), f"{count} fixed random directions of z (z has {latent} dimensions)"
    z = torch.randn(max(samples, 2 * latent), latent, generator=noise, dtype=torch.float64)
    generator.eval()
    moments = torch.zeros(latent, generator.config.pixels, dtype=torch.float64)  # z.T @ images, a batch at a time
    total = torch.zeros(generator.config.pixels, dtype=torch.float64)
    for batch in z.split(256):
        images = generator(batch.float()).reshape(len(batch), -1).double()
        moments += batch.T @ images
        total += images.sum(0)
    centred = moments - z.sum(0)[:, None] * (total / len(z))[None, :]  # z.T @ (images - their mean)
    fit = torch.linalg.solve(z.T @ z, centred)  # (latent, pixels): images ~ z @ fit
    values, vectors = torch.linalg.eigh(fit @ fit.T)
    directions = vectors[:, values.argsort(descending=True)[:count]].T  # (count, latent)
    signs = torch.sign(directions.gather(1, directions.abs().argmax(1, keepdim=True)))
    return (directions * signs).float(), (f"the {count} directions of z that change G's output most (a linear fit "
                                          f"of its output over {len(z):,} random z)")


def checkpoint_page(state: dict[str, Any], name: str, with_raw: bool = False, images: np.ndarray | None = None) -> str:
    """The page of a run's checkpoint: its networks rounded to float16, described by the run's own record.
    `images`: the run's training images when the caller holds them (the report), else they are loaded again."""
    weights = from_checkpoint(state, name)
    train = state["train_config"]
    evaluation = _last_evaluation(state.get("metrics") or [])
    about = [f"epoch {state['epoch']} of a run of {train.get('epochs')} epochs on {train.get('dataset')}, seed "
             f"{train.get('seed')}", *metric_words(evaluation)]
    real = real_examples(train.get("dataset"), weights.model_config.shape, train.get("image_size"), train.get("limit"),
                         images)
    return render(weights, f"run {name}", about, with_raw, real, evaluation.get("c2st_accuracy"))


def weights_page(weights: Weights, with_raw: bool = False) -> str:
    """The page of a weights file (the shipped ones): described by its provenance."""
    record = weights.provenance
    commands = ", then ".join(f"`{c}`" for c in str(record.get("command", "?")).split(", then "))  # a resumed run's two
    about = [f"trained by {commands} ({record.get('epochs', '?')} epochs, "
             f"{record.get('training_time_s', '?')} s of training; written {record.get('date', '?')})",
             *metric_words(record.get("metrics") or {})]
    real = real_examples((record.get("train") or {}).get("dataset", "digits"), weights.model_config.shape)
    return render(weights, "the shipped weights", about, with_raw, real,
                  (record.get("metrics") or {}).get("c2st_accuracy"))


def real_examples(dataset: Any, shape: tuple[int, ...], image_size: int | None = None, limit: int | None = None,
                  images: np.ndarray | None = None) -> tuple[np.ndarray | None, str]:
    """Real images for spot-the-fake: up to SPOT_REAL of the run's training images (its --dataset, --image-size and
    --limit, loaded as training loads them: uint8 (R, H, W[, 3])) and which they are, or None and why not. The
    package ships no held-out digits, so they are training images, chosen (data.fixed_order) past the 64 that the
    README's picture shows as real. `images`: those training images already loaded (--limit applied)."""
    if images is None and (not isinstance(dataset, str) or dataset.startswith("in-memory")):
        return None, "the run trained on data given in Python, which the page cannot read back"
    try:
        images = np.asarray(limit_images(load_images(dataset, image_size).images, limit) if images is None else images)
    except (VanillaGanError, OSError) as exc:
        return None, f"the run's data ({dataset}) could not be read: {exc}"
    if images.shape[1:] != tuple(shape):
        return None, (f"the run's data ({dataset}) holds {'x'.join(map(str, images.shape[1:]))} images, and G draws "
                      f"{'x'.join(map(str, shape))}: the page would compare unlike images")
    count = max(1, min(SPOT_REAL, SPOT_BYTES // math.prod(shape), len(images) - SHOWN_REAL))
    order = fixed_order(len(images))
    chosen = order[SHOWN_REAL:][:count] if len(images) > SHOWN_REAL else order[:count]
    return images[np.sort(chosen)], (f"{count} of the {len(images):,} training images of {dataset} (no held-out "
                                     f"set ships with the package; none of the 64 the README shows as real)")


def metric_words(record: dict[str, Any]) -> list[str]:
    """The headline metrics of an evaluated epoch, in one line (none when it was not evaluated)."""
    parts = [f"{label} {record[key]:.3g}" for key, label in (
        ("c2st_accuracy", "two-sample accuracy"), ("fid", "FID"), ("precision", "precision"), ("recall", "recall"))
             if isinstance(record.get(key), (int, float))]
    return [f"at epoch {record.get('epoch', '?')}: " + ", ".join(parts)] if parts else []


def _last_evaluation(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    evaluated = [m for m in metrics if isinstance(m, dict) and ("fid" in m or "c2st_accuracy" in m)]
    return evaluated[-1] if evaluated else {}


def _script_json(value: Any) -> str:
    """JSON that cannot end its <script> element."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")


def render(weights: Weights, title: str, about: list[str], with_raw: bool = False,
           real: tuple[np.ndarray | None, str] = (None, "no real images were given"), c2st: float | None = None) -> str:
    """The whole page, as text: G's average (or G, when the run kept none), D, and raw G when `with_raw`; real
    images (and which they are) for spot-the-fake, and the classifier's two-sample accuracy to show beside it."""
    config = weights.model_config
    average = weights.generator()
    raw = weights.generator(raw=True) if with_raw and weights.has_average and weights.has_raw else None
    embedded = {"average": average, "raw": raw, "discriminator": weights.discriminator()}
    embedded = {name: network for name, network in embedded.items() if network is not None}
    weight_bytes = sum(weight_bytes_of(network) for network in embedded.values())
    if weight_bytes > MAX_WEIGHT_BYTES:
        raise UsageError(f"these networks hold {_mb(weight_bytes)} of float16 weights, too many for one page (at "
                         f"most {_mb(MAX_WEIGHT_BYTES)}{'; leave out --with-raw' if raw is not None else ''})")
    directions, how = latent_directions(average)
    networks, blobs = {}, []
    for name, network in embedded.items():
        data, ops = encode(network, (config.latent_dim,) if name != "discriminator" else config.shape)
        networks[name] = {"id": f"vg-{name}", "ops": ops}
        blobs.append(f'<script type="application/octet-stream" id="vg-{name}">{data}</script>')
    shape = list(config.shape)
    colour = len(shape) == 3
    brush = max(0.6, round(1.25 * min(shape[:2]) / 28, 3))  # the pen's radius in pixels: 1.25 on the digits
    real_images, real_note = real
    if real_images is not None:
        blobs.append(f'<script type="application/octet-stream" id="vg-real">'
                     f'{base64.b64encode(np.ascontiguousarray(real_images, np.uint8).tobytes()).decode()}</script>')
    model = {"shape": shape, "latent": config.latent_dim, "slope": config.slope, "networks": networks,
             "directions": directions.tolist(), "brush": brush,
             "real": {"count": len(real_images)} if real_images is not None else None,
             "c2st": c2st if isinstance(c2st, (int, float)) else None}
    described = "x".join(map(str, shape[:2])) + (" colour" if colour else " grey")
    if raw is not None:
        raw_note = "The same z through G's trained weights (left) and their moving average (right), which draws the "
        raw_note += "samples everywhere else on this page."
    elif not weights.has_raw:
        raw_note = "These weights hold G's moving average only: there is no raw G to compare it with."
    elif weights.has_average:
        raw_note = ("G's raw weights are not embedded, to keep the page small: write it with <code>--with-raw</code> "
                    f"to compare them with the moving average here (adds {_mb(weight_bytes_of(average))}).")
    else:
        raw_note = "This run kept no moving average of G's weights: every image on this page is G's own."
    draw_note = ("This model draws colour images: the canvas draws grey, the same value in red, green and blue."
                 if colour else "White ink on black, like the training digits.")
    lines = "".join(f"<p class='muted'>{_inline(line)}</p>" for line in about)
    return TEMPLATE.format(
        csp=CSP, title=escape(title), about=lines, size=escape(described), latent=config.latent_dim,
        weights_size=_mb(weight_bytes), how=escape(how), raw_note=raw_note, draw_note=draw_note,
        raw_hidden="" if raw is not None else " hidden", style=_asset("explore.css"),
        spot_note=(f"The real images: {escape(real_note)}." if real_images is not None
                   else f"No round here: {escape(real_note)}."),
        spot_hidden="" if real_images is not None else " hidden",
        model=_script_json(model), blobs="".join(blobs), script=_asset("explore.js") + _asset("spot.js"))


def write_page(path: Path | str, html: str) -> Path:
    """Write a page to `path` (.html or .htm) atomically, its folder made; returns the path."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise UsageError(f"the page's path must be a str or a Path, got a {type(path).__name__}")
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"{path}: the page must end in .html")
    make_folder(path.parent)
    return atomic_write(path, html.encode("utf-8"))


def weight_bytes_of(network: nn.Module) -> int:
    return 2 * sum(t.numel() for t in (*network.parameters(), *network.buffers()))


def _mb(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1e5 else f"{count / 1e3:.0f} kB"


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    parts = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _asset(name: str) -> str:
    return (importlib.resources.files("vanilla_gan") / "assets" / name).read_text(encoding="utf-8")


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<link rel="icon" href="data:,"><title>vanilla-gan explore: {title}</title>
<style>{style}</style></head><body><main>
<h1>Play with the GAN: {title}</h1>
{about}
<p class="muted">Everything here is computed in this page: G's and D's weights ({weights_size} of float16) are
embedded and their layers run in JavaScript. No server, no network. Images are {size}; z has {latent}
dimensions.</p>
<p id="vg-error" class="error"></p>
<section><h2>New images</h2>
<p><button id="vg-new" type="button">New images</button> <span class="muted">noise seed <span id="vg-seed"></span>;
click an image to study it below</span></p>
<div id="vg-grid" class="grid"></div></section>
<section><h2>Move through the latent space</h2>
<div class="cols"><figure><canvas id="vg-current" class="big"></canvas>
<div class="meter"><div id="vg-current-meter"></div></div><figcaption id="vg-current-verdict"></figcaption></figure>
<div><p class="muted">Each slider moves z along one of {how}; the number is z's coordinate along it.</p>
<div id="vg-sliders" class="sliders"></div></div></div></section>
<section><h2>Walk between two images</h2>
<p><button id="vg-set-a" type="button">A = the image above</button>
<button id="vg-set-b" type="button">B = the image above</button></p>
<div class="cols"><div class="ends"><figure><canvas id="vg-a" class="mid"></canvas><figcaption>A</figcaption></figure>
<figure><canvas id="vg-walk" class="mid"></canvas><figcaption>t = <span id="vg-t-value"></span></figcaption></figure>
<figure><canvas id="vg-b" class="mid"></canvas><figcaption>B</figcaption></figure></div>
<div><label>A to B <input id="vg-t" type="range" min="0" max="1" step="0.01" value="0.5"></label>
<p class="muted">Spherical interpolation between the two z (a straight line would pass through the faint middle
of the latent space that G never saw). The strip: 9 steps; click one.</p></div></div>
<div id="vg-strip" class="strip"></div></section>
<section><h2>Draw, and ask D</h2>
<div class="cols"><figure><canvas id="vg-pad" class="big pad"></canvas>
<div class="meter"><div id="vg-pad-meter"></div></div><figcaption id="vg-pad-verdict"></figcaption></figure>
<div><p>Draw with the mouse or a finger: D's verdict, the probability it gives "real", follows each stroke.
{draw_note}</p><p><button id="vg-clear" type="button">Clear</button>
<button id="vg-copy" type="button">Copy the image above</button></p>
<p class="muted">D was trained to say "real" to training images and "generated" to G's. A good G keeps it near
50%; whatever D still spots is what gives G away. D learnt what G's images get wrong, not what an image should
be: a blank canvas, which G never draws, can score high.</p></div></div></section>
<section id="spot-the-fake"><h2>Spot the fake</h2>
<p>Your own two-sample test: one image at a time, half real and half drawn by G, in a random order. Say which each
is; at the end you see how often you were right, and whether that is better than guessing. {spot_note}</p>
<p class="{spot_hidden}"><label>images per round <input id="vg-spot-n" type="number" min="2" max="200" step="2"
value="20"></label> <button id="vg-spot-start" type="button">Start a round</button></p>
<div id="vg-spot-play" class="spot" hidden><figure><canvas id="vg-spot-image" class="big"></canvas>
<figcaption id="vg-spot-count"></figcaption></figure><p><button id="vg-spot-real" type="button">Real</button>
<button id="vg-spot-fake" type="button">Generated</button></p></div>
<div id="vg-spot-result" hidden><p id="vg-spot-score"></p><p id="vg-spot-verdict"></p><p id="vg-spot-c2st"
class="muted"></p><p id="vg-spot-fooled-note" class="muted"></p><div id="vg-spot-fooled" class="grid"></div></div>
</section>
<section><h2>Raw G beside its moving average</h2><p>{raw_note}</p>
<div class="ends{raw_hidden}"><figure><canvas id="vg-raw-image" class="mid"></canvas><figcaption>raw G</figcaption>
</figure><figure><canvas id="vg-average-image" class="mid"></canvas><figcaption>moving average</figcaption></figure>
</div></section>
<p class="muted">Written by vanilla-gan explore.</p>
</main>
<script type="application/json" id="vg-model">{model}</script>
{blobs}
<script>{script}</script>
</body></html>
"""
