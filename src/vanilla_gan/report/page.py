"""The report page: one self-contained HTML file from what `report.write_report` gathered.

    html = render(record, state, figures, progress, walk, real, notes, memo, skipped)

Every image is inlined as a data: URI and a Content-Security-Policy forbids any network request and any
script; every string from the run folder (its name, config.json's values) is HTML-escaped. The page reads
on a phone and on a desktop (one column below ~520 px). Sections: training health, generated next to real
digits, progress.gif and a latent walk, the curves, the final metrics, the memorisation check, the
configuration, and any panel that could not be made.
"""

from __future__ import annotations

import base64
import shlex
import time
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vanilla_gan.config import is_finite_number
from vanilla_gan.data import fixed_order
from vanilla_gan.data.images import grid, png_bytes
from vanilla_gan.evaluation.memorisation import Memorisation
from vanilla_gan.report.health import Note, own_objective
from vanilla_gan.runs.runlog import RunRecord
from vanilla_gan.runs.schema import HEADLINE_METRICS, two_sample_sentence


def _data_uri(source: Path | Image.Image, mime: str = "image/png") -> str:
    data = png_bytes(source) if isinstance(source, Image.Image) else Path(source).read_bytes()
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _img(source: Path | Image.Image, alt: str, pixelated: bool = False, mime: str = "image/png") -> str:
    cls = ' class="pix"' if pixelated else ""
    return f'<img{cls} src="{_data_uri(source, mime)}" alt="{escape(alt)}">'


def _table(rows: list[tuple[str, str]], head: tuple[str, str] | None = None) -> str:
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    top = f"<tr><th>{escape(head[0])}</th><th>{escape(head[1])}</th></tr>" if head else ""
    return f'<div class="scroll"><table>{top}{cells}</table></div>'


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _text(value: Any) -> str:
    """Any value from the run folder as escaped text (config.json is the user's file: never trusted as markup)."""
    return escape(_format(value))


def _config_rows(config: dict[str, Any]) -> list[tuple[str, str]]:
    parts = {part: config[part] if isinstance(config.get(part), dict) else {} for part in ("model", "train")}
    rows = [(f"model.{k}", _format(v)) for k, v in parts["model"].items()]
    rows += [(f"train.{k}", _format(v)) for k, v in parts["train"].items()]
    rows += [(k, _format(v)) for k, v in config.items() if k not in ("model", "train")]
    return rows


def _metrics_rows(metrics: list[dict[str, Any]]) -> list[tuple[str, str]]:
    last = metrics[-1]
    rows = [("epoch", str(last["epoch"])), ("step", f"{last['step']:,}"), ("loss_D", f"{last['loss_d']:.3f}"),
            ("loss_G", f"{last['loss_g']:.3f}"), ("D(x)", f"{last['d_real']:.3f}"),
            ("D(G(z))", f"{last['d_fake']:.3f}"), ("images/s", f"{last['images_per_s']:,.0f}"),
            ("training time", f"{last['elapsed_s']:,.0f} s")]
    evaluated = [m for m in metrics if "fid" in m]
    if evaluated:
        final = evaluated[-1]
        rows.append(("evaluated at epoch", str(final["epoch"])))
        floor = final.get("real_floor") if isinstance(final.get("real_floor"), dict) else {}
        rows += [(m.label, _format(final[m.key]) + (f"   (real data: {_format(floor[m.key])}; {m.meaning})"
                                                     if m.key in floor else f"   ({m.meaning})"))
                 for m in HEADLINE_METRICS if m.key in final]
        made = final.get("evaluated_by")
        if isinstance(made, dict):
            rows.append(("evaluated by", f"vanilla-gan evaluate on {_text(made.get('made'))}: "
                                         f"{_text(made.get('num_samples'))} samples, seed {_text(made.get('seed'))}, "
                                         f"{_text(made.get('checkpoint'))}"))
        if "class_histogram" in final:
            rows.append(("class histogram", "  ".join(f"{d}: {p:.0%}" for d, p in enumerate(final["class_histogram"]))))
        best = min(evaluated, key=lambda m: m["fid"])
        rows.append(("best FID", f"{best['fid']:.2f} at epoch {best['epoch']}"))
    return rows


def _noun(run: RunRecord) -> str:
    """What the report calls the run's images: "digits" for the digit data sets, else "images"."""
    return "digits" if run.train.get("dataset", "digits") in ("digits", "mnist") else "images"


def _two_sample_section(metrics: list[dict[str, Any]], picture: Path | None, noun: str = "digits") -> str:
    """The two-sample test's verdict in words, and the images it found easiest and hardest to tell from real."""
    tested = [m for m in metrics if is_finite_number(m.get("c2st_accuracy"))]
    if not tested:
        return ""
    last = tested[-1]
    floor = last.get("real_floor") if isinstance(last.get("real_floor"), dict) else {}
    words = [f"At epoch {_text(last['epoch'])}, {escape(two_sample_sentence(last['c2st_accuracy']))}."]
    if is_finite_number(floor.get("c2st_accuracy")):
        words.append(f"Between two sets of real {noun} it scores {floor['c2st_accuracy']:.0%}.")
    if last.get("c2st_optimistic") is True:
        words.append(f"The real {noun} it saw are ones the GAN trained on, so the figure is optimistic.")
    shown = ""
    if picture is not None:
        shown = (f"<figure>{_img(picture, f'generated {noun} easiest and hardest to spot, and real ones')}"
                 f"<figcaption>Left: the 32 generated {noun} the classifier found easiest to spot; middle: the 32 "
                 f"it found hardest; right: 32 real {noun}. Whatever sets the left ones apart from the real ones "
                 "(on default runs: thick, evenly bright strokes) is what still gives the generator away."
                 "</figcaption></figure>")
    return f"<section><h2>Can a classifier tell them from real?</h2><p>{' '.join(words)}</p>{shown}</section>"


STYLE = """
:root { color-scheme: light; --ink: #1d232b; --muted: #5b6675; --line: #d9dee5; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); }
main { max-width: 1040px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.5rem; margin: 0.2em 0; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 0 0 0.6em; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 14px 0; }
.muted, figcaption { color: var(--muted); font-size: 0.9rem; }
img { max-width: 100%; height: auto; display: block; }
img.pix { image-rendering: pixelated; width: 100%; max-width: 420px; }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(250px, 1fr)); gap: 16px; }
figure { margin: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.92rem; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
.note { border-left: 5px solid #8a96a6; padding: 6px 12px; margin: 8px 0; background: #fafbfc; }
.note.problem { border-color: #c62828; } .note.warning { border-color: #ef8f00; }
.note.ok { border-color: #2e7d32; } .note.info { border-color: #1565c0; }
.note p { margin: 0.3em 0; }
.tag { font-size: 0.75rem; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em; }
code { background: #eef1f4; padding: 0 4px; border-radius: 3px; overflow-wrap: anywhere; }
"""


def render(run: RunRecord, state: dict[str, Any], figures: dict[str, Path], progress: Path | None,
           walk: tuple[Path, Path] | None, real: np.ndarray | None, notes: list[Note], memo: Memorisation | None,
           skipped: list[str], two_sample: Path | None = None, explore: Path | None = None) -> str:
    """The whole page, as text. `two_sample`: RUN/two_sample.png, when the last evaluation wrote it; `explore`:
    RUN/explore.html, linked when written."""
    name = run.run_dir.resolve().name
    parts = [_heading(run, name), _health_section(notes), _explore_section(explore),
             _two_sample_section(run.metrics_with_evaluation(), two_sample, _noun(run)), _samples_section(run, real),
             _animations_section(progress, walk), _curves_section(figures, run), _metrics_section(run),
             _memorisation_section(memo, figures, _noun(run)), _config_section(run.config), _left_out_section(skipped),
             _footer(run, state)]
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f'<link rel="icon" href="data:,"><title>vanilla-gan report: {escape(name)}</title>'
            f"<style>{STYLE}</style></head><body><main>{''.join(parts)}</main></body></html>\n")


# ---------------------------------------------------------------------- the sections, top to bottom; "" leaves one out

def _heading(run: RunRecord, name: str) -> str:
    """The run's name, then a line: epochs done of planned, the data, the seed, when and by which version."""
    config, train = run.config, run.train
    return (f"<h1>vanilla-gan run <code>{escape(name)}</code></h1>"
            f'<p class="muted">{len(run.metrics)} of {_text(train.get("epochs", "?"))} epochs on '
            f'{_text(train.get("dataset"))} ({_text(config.get("num_images", "?"))} images, seed '
            f'{_text(train.get("seed"))}), report written {time.strftime("%Y-%m-%d %H:%M")} by vanilla-gan '
            f'{_text(config.get("package_version", ""))}.</p>')


def _health_section(notes: list[Note]) -> str:
    body = "".join(f'<div class="note {n.level}"><span class="tag">{n.level}</span> <strong>{escape(n.title)}</strong>'
                   f"<p>{escape(n.meaning)}</p>" + (f"<p><em>Try:</em> {escape(n.advice)}</p>" if n.advice else "")
                   + "</div>" for n in notes)
    return f"<section><h2>Training health</h2>{body}</section>"


def _explore_section(explore: Path | None) -> str:
    if explore is None:
        return ""
    return (f'<section><h2>Play with it</h2><p><a href="{escape(explore.name)}">{escape(explore.name)}</a>: '
            "G draws and D judges in your browser: new samples, sliders through the latent space, a walk "
            "between two samples, and a canvas to draw on.</p></section>")


def _samples_section(run: RunRecord, real: np.ndarray | None) -> str:
    """The last epoch's grid beside as many real training digits."""
    samples = []
    if run.grids:
        epoch, last = run.grids[-1]
        samples.append(f"<figure>{_img(last, f'generated {_noun(run)}, epoch {epoch}', True)}"
                       f"<figcaption>Generated: the fixed noise at epoch {epoch} (the last grid)</figcaption></figure>")
    if real is not None:
        picks = real[fixed_order(len(real))[:run.grid_size]]
        samples.append(f"<figure>{_img(grid(picks, scale=2), f'real training {_noun(run)}', True)}"
                       f"<figcaption>Real: {len(picks)} training {_noun(run)}</figcaption></figure>")
    if not samples:
        return ""
    return f'<section><h2>Generated and real</h2><div class="cols">{"".join(samples)}</div></section>'


def _animations_section(progress: Path | None, walk: tuple[Path, Path] | None) -> str:
    moving = []
    if progress is not None:
        moving.append(f"<figure>{_img(progress, 'the fixed-noise grid across epochs', True, 'image/gif')}"
                      f"<figcaption>progress.gif: the same 64 noise vectors, epoch by epoch</figcaption></figure>")
    if walk is not None:
        moving.append(f"<figure>{_img(walk[0], 'latent-space walks', True, 'image/gif')}"
                      f"<figcaption>interpolation.gif: 8 walks between random z (spherical interpolation)"
                      f"</figcaption>{_img(walk[1], 'latent-space walks as rows', True)}"
                      f"<figcaption>interpolation.png: each row one walk, left to right</figcaption></figure>")
    if not moving:
        return ""
    return f'<section><h2>Animations</h2><div class="cols">{"".join(moving)}</div></section>'


def _curves_section(figures: dict[str, Path], run: RunRecord | None = None) -> str:
    captions = {"losses": "Losses per step (raw values faint, moving average bold)",
                "discriminator": "D(x) and D(G(z)) per step; at 0.5 D cannot tell real from generated",
                "metrics": "Evaluation metrics per evaluated epoch", "speed": "Training images per second"}
    readings = reading_of_d(run.metrics[-1]) if run is not None and run.metrics and own_objective(run) is None else {}
    shown = "".join(f"<figure>{_img(figures[key], caption)}<figcaption>{escape(caption)}"
                    f"{'<br>' + escape(readings[key]) if key in readings else ''}</figcaption></figure>"
                    for key, caption in captions.items() if key in figures)
    return f"<section><h2>Curves</h2>{shown}</section>" if shown else ""


def reading_of_d(last: dict[str, Any]) -> dict[str, str]:
    """One line each, for a learner, on why the last epoch's losses and D's outputs look as they do (BCE).

    With D(x) = a and D(G(z)) = b, loss_D = -ln a - ln(1 - b): 2 ln 2 = 1.39 when D says 0.5 to both."""
    a, b, loss_d = last.get("d_real"), last.get("d_fake"), last.get("loss_d")
    if not all(isinstance(v, (int, float)) for v in (a, b, loss_d)):
        return {}
    gap = a - b
    if gap < 0.15:
        game = "D can barely tell them apart: the game is near its balance point, where G's images pass"
    elif b < 0.1:
        game = "D rejects nearly every generated image: D is winning and G learns little from it"
    else:
        game = "D tells them apart, but not surely: G and D are still playing"
    return {
        "losses": f"In the last epoch loss_D averaged {loss_d:.2f}; 2 ln 2 = 1.39 is D answering 0.5 to every image "
                  f"(a D that cannot tell), lower means D is right more often. loss_G = -ln D(G(z)) rises as D wins.",
        "discriminator": f"In the last epoch D(x) averaged {a:.2f} and D(G(z)) {b:.2f}: {game}.",
    }


def _metrics_section(run: RunRecord) -> str:
    if not run.metrics:
        return ""
    return (f"<section><h2>Final metrics</h2>{_table(_metrics_rows(run.metrics_with_evaluation()))}"
            f'<p class="muted">Each metric beside its real-data floor: the same metric between two halves '
            f"of the real {_noun(run)}, which a generator cannot be expected to beat. More samples: <code>"
            f"vanilla-gan evaluate {escape(shlex.quote(str(run.run_dir)))}</code>.</p></section>")


def _memorisation_section(memo: Memorisation | None, figures: dict[str, Path], noun: str = "digits") -> str:
    """The verdict, the distances' histogram, and the closest and 10 random samples over their nearest images."""
    if memo is None:
        return ""
    shown = min(10, len(memo.generated))  # a data set of 3 images has 3 nearest neighbours to show
    closest, randoms = memo.closest(shown), np.arange(shown)
    pairs = []
    one = noun.removesuffix("s")
    for title, picks in ((f"The {shown} samples closest to a training {one}", closest),
                         (f"{shown} random samples", randoms)):
        picture = grid(np.concatenate([memo.generated[picks], memo.nearest[picks]]), scale=3, cols=len(picks))
        distances = ", ".join(f"{d:.2f}" for d in memo.generated_distances[picks])
        pairs.append(f"<figure>{_img(picture, title, True)}<figcaption>{escape(title)}: generated (top row) "
                     f"and the nearest training {one} (bottom row); distances {distances}</figcaption></figure>")
    histogram = (f"<figure>{_img(figures['distances'], 'nearest-neighbour distances')}</figure>"
                 if "distances" in figures else "")
    return (f'<section><h2>Memorisation check</h2><div class="note {memo.level}"><strong>'
            f"{escape(memo.verdict)}</strong></div>{histogram}"
            f'<div class="cols">{"".join(pairs)}</div></section>')


def _config_section(config: dict[str, Any]) -> str:
    return (f"<section><details open><summary><h2 style='display:inline'>Configuration</h2></summary>"
            f"{_table(_config_rows(config))}</details></section>")


def _left_out_section(skipped: list[str]) -> str:
    if not skipped:
        return ""
    items = "".join(f"<li>{escape(s)}</li>" for s in skipped)
    return f"<section><h2>Left out</h2><p>These panels could not be made:</p><ul>{items}</ul></section>"


def _footer(run: RunRecord, state: dict[str, Any]) -> str:
    command = escape(f"vanilla-gan report {shlex.quote(str(run.run_dir))}")
    return (f'<p class="muted">Regenerate with <code>{command}</code>. '
            f"Checkpoint: epoch {state['epoch']}, step {state['step']:,}.</p>")
