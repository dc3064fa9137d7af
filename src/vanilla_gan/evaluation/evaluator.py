"""How good are the generated digits? The bundled digit classifier and the metrics computed with it.

    from vanilla_gan.evaluation.evaluator import Evaluator, compute_metrics, evaluate_checkpoint, format_table
    result = evaluate_checkpoint("runs/try", num_samples=10_000)   # a checkpoint or a run folder
    print(format_table(result))                                    # FID 4.10   (real data: 1.30) ...
    result = compute_metrics(generated, real_train)                # any uint8 (N, 28, 28) image arrays
    evaluator = Evaluator("digits"); result = evaluator(G)         # data and classifier loaded once

Images are uint8 (N, 28, 28), 0 = background, 255 = ink, everywhere in this module (what `sample -o X.npy`
writes and `load_dataset` returns); arrays and tensors are both accepted.

The evaluator is `classifier.DigitClassifier`, a small CNN trained on the embedded digits and shipped with
its SHA-256: its 128 penultimate activations are the features, its 10 logits the class probabilities.

The metrics' definitions and formulas are in metrics.py; compute_metrics computes them on N generated images
against the real training images, beside their real floor.
"Fixed" subsets come from `fixed_order`, a shuffle that uses no random number generator.

Nothing here touches the global random generators (KID draws its subsets from its own seeded generator),
so evaluating during training does not change the training run. The real images' features, mean and
covariance, and the real floor are computed once and cached in `default_cache_dir() / "eval"`, keyed by
the SHA-256 of the real images and of the evaluator.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vanilla_gan.data import default_cache_dir, fixed_order, load_split
from vanilla_gan.data.sources import LoadedImages, load_images
from vanilla_gan.errors import DataError, StorageError, UsageError, VanillaGanError
from vanilla_gan.evaluation.classifier import (
    FEATURE_DIM,
    DigitClassifier,
    extract,
    load_evaluator,
    weights_sha256,
)
from vanilla_gan.evaluation.memorisation import check_memorisation
from vanilla_gan.evaluation.metrics import (
    class_statistics,
    frechet_distance,
    gaussian_stats,
    inception_score,
    kernel_distance,
    parzen_log_likelihood,
    precision_recall,
)
from vanilla_gan.evaluation.twosample import MIN_PER_SIDE, two_sample_test
from vanilla_gan.fileio import atomic_write
from vanilla_gan.gan.sampling import sample_images
from vanilla_gan.runs.checkpoint import load_generator
from vanilla_gan.runs.rundir import RunDir, load_checkpoint, resolve_checkpoint
from vanilla_gan.runs.schema import HEADLINE_METRICS, two_sample_sentence

METRICS_VERSION = 1  # part of the cache key: bump it when a metric's definition changes
TWO_SAMPLE_VERSION = 3  # the same for the two-sample test's floor (twosample.py's network, layout and schedule)
PARZEN_VALIDATION = PARZEN_TEST = 1000
MIN_SAMPLES = 20


# Why the classifier's metrics are left out for other data (evaluate prints it; the JSON has it as "absent").
ABSENT = ("FID, KID, Inception Score, modes, precision/recall and Parzen are absent: they need the bundled digit "
          "classifier, which knows only 28x28 grey digits (digits, mnist, fashion-mnist, IDX folders)")


def uses_classifier(data: LoadedImages) -> bool:
    """Whether the digit classifier's metrics apply: the named data sets and IDX folders, 28x28 grey."""
    return data.kind in ("name", "idx") and data.shape == (28, 28)


def min_real_images() -> int:
    """The fewest real images an evaluation takes (training checks it before its first step)."""
    return 5 * MIN_SAMPLES


# ---------------------------------------------------------------------------------------------------------
# The metrics, each on its own (features as float tensors (N, D); pixels as float tensors (N, 784) in [0, 1])


def compute_metrics(generated: np.ndarray | torch.Tensor, real_train: np.ndarray | torch.Tensor,
                    real_heldout: np.ndarray | torch.Tensor | None = None, device: str | torch.device = "cpu",
                    cache_dir: Path | None = None, evaluator: DigitClassifier | None = None,
                    two_sample: bool = False) -> dict[str, Any]:
    """Every metric (METRIC_KEYS) of `generated` against `real_train`, plus `real_floor` and `evaluator_sha256`;
    with `two_sample`, the two-sample test's figures too (15 s on 2 idle cores, longer beside other work; floor cached).

    All images are uint8 (N, 28, 28). `real_heldout` (the data set's test split, if any) holds the Parzen
    test images; without it they are a fixed 1,000 of `real_train`. See the module docstring.
    """
    generated, real_train = _as_images(generated, "generated"), _as_images(real_train, "real")
    heldout = None if real_heldout is None else _as_images(real_heldout, "held-out")
    if len(generated) < MIN_SAMPLES or len(real_train) < min_real_images():
        raise UsageError(f"evaluation needs at least {MIN_SAMPLES} generated and {min_real_images()} real images, "
                         f"got {len(generated)} and {len(real_train)}")
    model = load_evaluator(device) if evaluator is None else evaluator
    device = next(model.parameters()).device
    model_id = model.sha256 or weights_sha256(model)
    cache = default_cache_dir() / "eval" if cache_dir is None else Path(cache_dir)
    data_sha = hashlib.sha256(real_train.numpy().tobytes()).hexdigest()
    heldout_sha = "" if heldout is None else hashlib.sha256(heldout.numpy().tobytes()).hexdigest()

    real_features, mu, cov = _real_statistics(model, real_train, cache, f"{data_sha}-{model_id}")
    real_features = real_features.to(device)
    order = fixed_order(len(real_train))
    n_validation = min(PARZEN_VALIDATION, len(real_train) // 5)
    n_test = 0 if heldout is not None else min(PARZEN_TEST, len(real_train) // 5)
    validation = _pixels(real_train[order[:n_validation]], device)
    test = _pixels(heldout if heldout is not None else real_train[order[n_validation:n_validation + n_test]], device)

    features, logits = (t.to(device) for t in extract(model, generated))
    result = _metrics(features, logits, _pixels(generated, device), real_features, mu, cov,
                      real_features[order[:len(generated)]], validation, test)

    pool = order[n_validation + n_test:]
    half = min(len(generated), len(pool) // 2)
    floor_key = hashlib.sha256(f"{data_sha}-{heldout_sha}-{model_id}-{half}-{METRICS_VERSION}".encode())
    floor_path = cache / f"floor-{floor_key.hexdigest()[:24]}.json"
    floor = _read_json(floor_path)
    if floor is None:
        a, b = pool[:half], pool[half:2 * half]
        mu_b, cov_b = gaussian_stats(real_features[b])
        logits_a = extract(model, real_train[a])[1].to(device)  # the logits are not cached, the features are
        floor = _metrics(real_features[a], logits_a, _pixels(real_train[a], device), real_features[b], mu_b, cov_b,
                         real_features[b], validation, test)
        _write_cache(floor_path, json.dumps(floor).encode())
    if two_sample:
        c2st, c2st_floor = _two_sample(generated, real_train if heldout is None else heldout, cache,
                                       data_sha if heldout is None else heldout_sha)
        result.update(c2st, c2st_optimistic=heldout is None)
        floor = {**floor, **c2st_floor}
    return {**result, "real_floor": floor, "evaluator_sha256": model_id}


def _two_sample(generated: torch.Tensor, real: torch.Tensor, cache: Path, real_sha: str,
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two-sample test of `generated` against a fixed shuffle of `real`, and its floor (real against other
    real images, cached): ({c2st_accuracy, c2st_spread, c2st_per_side, two_sample_pictures}, {c2st_accuracy})"""
    real = real[fixed_order(len(real))]
    n = min(len(generated), len(real) // 2)
    if n < MIN_PER_SIDE:  # a data set too small to test against: said, not an error (train accepts 3 images)
        return {"c2st_absent": f"the two-sample test needs {2 * MIN_PER_SIDE} real images; the data set has "
                               f"{len(real)}"}, {}
    test = two_sample_test(real[:n], generated)
    figures = {"c2st_accuracy": test.accuracy, "c2st_spread": test.spread, "c2st_per_side": test.per_side,
               "two_sample_pictures": {"easiest": test.easiest, "hardest": test.hardest,
                                       "real": real[:len(test.easiest)].numpy()}}
    key = hashlib.sha256(f"c2st-{real_sha}-{test.per_side}-{TWO_SAMPLE_VERSION}".encode()).hexdigest()[:24]
    floor_path = cache / f"c2st-floor-{key}.json"
    floor = _read_json(floor_path)
    if floor is None:
        real_test = two_sample_test(real[:n], real[n:2 * n])
        floor = {"c2st_accuracy": real_test.accuracy, "c2st_spread": real_test.spread}
        _write_cache(floor_path, json.dumps(floor).encode())
    return figures, floor


def _metrics(features: torch.Tensor, logits: torch.Tensor, pixels: torch.Tensor, real_features: torch.Tensor,
             real_mu: torch.Tensor, real_cov: torch.Tensor, pr_reference: torch.Tensor,
             parzen_validation: torch.Tensor, parzen_test: torch.Tensor) -> dict[str, Any]:
    """The METRIC_KEYS of one set of images (features, logits, pixels) against the real reference."""
    histogram, modes, kl = class_statistics(logits)
    precision, recall = precision_recall(pr_reference, features)
    parzen_ll, parzen_se, sigma = parzen_log_likelihood(pixels, parzen_validation, parzen_test)
    return {
        "fid": frechet_distance(*gaussian_stats(features), real_mu, real_cov),
        "kid": kernel_distance(real_features, features),
        "inception_score": inception_score(logits),
        "modes": modes,
        "kl_uniform": kl,
        "class_histogram": histogram,
        "precision": precision,
        "recall": recall,
        "parzen_ll": parzen_ll,
        "parzen_se": parzen_se,
        "parzen_sigma": sigma,
    }


def _real_statistics(model: DigitClassifier, real: torch.Tensor, cache: Path, key: str,
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The real images' features (N, 128), their mean and covariance: from the cache, else computed and cached."""
    path = cache / f"real-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"
    try:
        with np.load(path, allow_pickle=False) as npz:
            features, mu, cov = (torch.from_numpy(npz[name]) for name in ("features", "mu", "cov"))
        if features.shape == (len(real), FEATURE_DIM):
            return features, mu, cov
    except (OSError, ValueError, KeyError, EOFError):
        pass  # absent or unreadable: compute it again
    features, _ = extract(model, real)
    mu, cov = gaussian_stats(features)
    buffer = io.BytesIO()
    np.savez(buffer, features=features.numpy(), mu=mu.numpy(), cov=cov.numpy())
    _write_cache(path, buffer.getvalue())
    return features, mu, cov


# ---------------------------------------------------------------------------------------------------------
# Generators and checkpoints, and the table


class Evaluator:
    """The metrics of generators against one data set's real images; the classifier and data load once.

        evaluator = Evaluator("digits", device="cpu", num_samples=10_000)
        result = evaluator(G)        # compute_metrics of num_samples images drawn with noise seed `seed`

    The real images are the data set's whole training split and, where it has one, its test split (for the
    Parzen test points; mnist and fashion-mnist download it if not cached). With `offline_ok`, a test split
    that cannot be had (offline) falls back to training images instead of raising.
    """

    def __init__(self, dataset: str, device: str | torch.device = "cpu", num_samples: int = 10_000, seed: int = 0,
                 cache_dir: Path | None = None, offline_ok: bool = False, image_size: int | None = None,
                 data: LoadedImages | None = None):
        self.dataset, self.device, self.num_samples, self.seed = dataset, device, num_samples, seed
        self.cache_dir, self.offline_ok, self.image_size, self.data = cache_dir, offline_ok, image_size, data
        self._loaded: tuple[DigitClassifier | None, torch.Tensor, torch.Tensor | None] | None = None

    def _load(self) -> tuple[DigitClassifier | None, torch.Tensor, torch.Tensor | None]:
        """(the classifier, or None where its metrics do not apply; the real images; the test split or None)"""
        if self._loaded is None:
            data = self.data if self.data is not None else load_images(self.dataset, self.image_size)
            if not uses_classifier(data):
                self._loaded = (None, data.images, None)
                return self._loaded
            tolerated = VanillaGanError if self.offline_ok else DataError
            try:
                heldout: torch.Tensor | None = load_split(self.dataset, "test")[0]
            except tolerated:
                heldout = None  # the digits, or a folder without t10k files: Parzen tests on training images
            self._loaded = (load_evaluator(self.device), data.images, heldout)
        return self._loaded

    def real_images(self) -> torch.Tensor:
        """The real images it scores against (the data set's whole training split), loaded once."""
        return self._load()[1]

    def __call__(self, generator: nn.Module, two_sample: bool = False) -> dict[str, Any]:
        """compute_metrics of the generator's samples; the two-sample test too when `two_sample`. For data the
        classifier does not know, only the two-sample test (when asked) and `absent`, which says why."""
        model, real, heldout = self._load()
        images = sample_images(generator, self.num_samples, self.seed, self.device)
        if model is None:
            return two_sample_only(images, real, self.cache_dir, two_sample)
        return compute_metrics(images, real, heldout, device=self.device, cache_dir=self.cache_dir, evaluator=model,
                               two_sample=two_sample)


def two_sample_only(generated: np.ndarray | torch.Tensor, real: torch.Tensor, cache_dir: Path | None = None,
                    two_sample: bool = True) -> dict[str, Any]:
    """What holds without the digit classifier: the two-sample test (against the training images, so
    optimistic) beside its real floor, and `absent` (ABSENT: why the other metrics are not there)."""
    generated = torch.as_tensor(np.asarray(generated))
    if generated.shape[1:] != real.shape[1:]:
        raise UsageError(f"the generated images are {tuple(generated.shape[1:])} but the real ones "
                         f"{tuple(real.shape[1:])}")
    result: dict[str, Any] = {"absent": ABSENT, "real_floor": {}}
    if two_sample:
        cache = default_cache_dir() / "eval" if cache_dir is None else Path(cache_dir)
        data_sha = hashlib.sha256(real.contiguous().numpy().tobytes()).hexdigest()
        c2st, floor = _two_sample(generated, real, cache, data_sha)
        result.update(c2st, c2st_optimistic=True, real_floor=floor)
    return result


def evaluate_checkpoint(path: Path | str, num_samples: int = 10_000, seed: int = 0, device: str | torch.device = "cpu",
                        cache_dir: Path | None = None, generator: nn.Module | None = None,
                        two_sample: bool = True) -> dict[str, Any]:
    """compute_metrics of `num_samples` images from a checkpoint (or run folder), plus epoch and num_samples;
    the two-sample test too unless `two_sample` is False (its pictures are left out: the result is JSON).

    Uses the EMA weights when the run kept them. The real images are the run's whole training set (its
    `--limit` is ignored, so runs stay comparable); see Evaluator. `generator`: for a run trained with its own
    generator module, an instance of it.
    """
    state = load_checkpoint(path)
    result = evaluate_generator(load_generator(state, generator=generator), state["train_config"]["dataset"],
                                num_samples, seed, device, cache_dir, two_sample,
                                image_size=state["train_config"].get("image_size"))
    return {"epoch": state["epoch"], **result}


def evaluate_and_keep(path: Path | str, num_samples: int = 10_000, seed: int = 0,
                      device: str | torch.device = "cpu", generator: nn.Module | None = None,
                      two_sample: bool = True) -> tuple[dict[str, Any], str]:
    """evaluate_checkpoint, and its result kept in the run folder that holds the checkpoint (evaluation.json,
    which the report shows); returns the result and a line saying what was scored and where it was kept."""
    checkpoint = resolve_checkpoint(path)
    result = evaluate_checkpoint(checkpoint, num_samples, seed, device, generator=generator, two_sample=two_sample)
    scored = f"epoch {result['epoch']} ({checkpoint.name})"
    run = RunDir(checkpoint.parent.parent)
    if checkpoint.parent.name != "checkpoints" or not run.config_path.is_file():
        return result, f"scored {scored}; not kept (the checkpoint is not in a run folder)"
    run.check_layout()
    run.write_evaluation(checkpoint.resolve().relative_to(run.path.resolve()),
                         {"num_samples": num_samples, "seed": seed, "two_sample": two_sample}, result)
    which = "" if checkpoint.name == "last.pt" else ", not the run's last.pt"
    return result, f"scored {scored}{which}; kept in {run.evaluation_path} for the report"


def evaluate_generator(generator: nn.Module, dataset: str, num_samples: int = 10_000, seed: int = 0,
                       device: str | torch.device = "cpu", cache_dir: Path | None = None, two_sample: bool = True,
                       image_size: int | None = None) -> dict[str, Any]:
    """evaluate_checkpoint's result (but its epoch) for a generator trained on `dataset` (the shipped weights)."""
    evaluator = Evaluator(dataset, device, num_samples, seed, cache_dir, image_size=image_size)
    result = evaluator(generator, two_sample=two_sample)
    result.pop("two_sample_pictures", None)
    if "absent" in result:  # no classifier: the memorisation check holds (the whole data set as training images)
        result["memorisation"] = check_memorisation(generator, evaluator.real_images(), device=device).summary()
    return {"num_samples": num_samples, "dataset": dataset, **result}


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table: each metric beside its real-data floor, e.g. `FID  4.10   (real data: 1.30)`."""
    floor = result.get("real_floor", {})
    head = []
    if "epoch" in result:
        head.append(f"epoch {result['epoch']}, {result['num_samples']:,} samples, data set {result['dataset']}")
    rows = []
    for metric in HEADLINE_METRICS:
        if metric.key not in result:
            continue  # the two-sample test where it did not run
        value, real = (_formatted(metric, source) for source in (result, floor))
        meaning = metric.meaning + (f", sigma {result['parzen_sigma']:.3f}" if metric.key == "parzen_ll" else "")
        rows.append((metric.label, value, f"(real data: {real})", meaning))
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:>{widths[1]}}   {c:<{widths[2]}}   {d}" for a, b, c, d in rows]
    if "class_histogram" in result:
        histogram = " ".join(f"{i}:{p:.0%}" for i, p in enumerate(result["class_histogram"]))
        lines.append(f"Classes: {histogram}")
    if "c2st_accuracy" in result:
        optimistic = (" (optimistic: the real images are ones the GAN trained on)"
                      if result.get("c2st_optimistic") else "")
        lines.append(f"Two-sample test: {two_sample_sentence(result['c2st_accuracy'])}; spread over two "
                     f"classifier seeds {result['c2st_spread']:.3f}{optimistic}")
    if "memorisation" in result:
        lines.append(f"Memorisation: {result['memorisation']['verdict']}")
    if "absent" in result:
        lines.append(f"Note: {result['absent']}")
    if "c2st_absent" in result:
        lines.append(f"Note: {result['c2st_absent']}")
    return "\n".join([*head, *lines])


def _formatted(metric: Any, source: dict[str, Any]) -> str:
    """A metric's value as the table shows it (the Parzen figure with its standard error), or "?"."""
    if metric.key not in source:
        return "?"
    text = metric.format(source[metric.key])
    return f"{text} ± {source['parzen_se']:.1f}" if metric.key == "parzen_ll" else text


# ---------------------------------------------------------------------------------------------------------
# Helpers


def _as_images(images: np.ndarray | torch.Tensor, what: str) -> torch.Tensor:
    """A uint8 CPU tensor (N, 28, 28), or a UsageError saying what was wrong."""
    images = torch.as_tensor(images).cpu()
    if images.dtype != torch.uint8 or images.ndim != 3 or tuple(images.shape[1:]) != (28, 28):
        raise UsageError(f"the {what} images are {images.dtype} {tuple(images.shape)}, expected uint8 (N, 28, 28)")
    return images


def _pixels(images: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float32 (N, 784) in [0, 1] on `device`."""
    return images.to(device).reshape(len(images), -1).float() / 255


def _write_cache(path: Path, data: bytes) -> None:
    """A cache entry, written atomically; a cache that cannot be written is only slower next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data, durable=False)
    except (OSError, StorageError):
        pass


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
