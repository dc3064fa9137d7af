"""How good are the generated digits? The bundled digit classifier and the metrics computed with it.

    from vanilla_gan.evaluate import Evaluator, compute_metrics, evaluate_checkpoint, format_table
    result = evaluate_checkpoint("runs/try", num_samples=10_000)   # a checkpoint or a run folder
    print(format_table(result))                                    # FID 4.10   (real data: 1.30) ...
    result = compute_metrics(generated, real_train)                # any uint8 (N, 28, 28) image arrays
    evaluator = Evaluator("digits"); result = evaluator(G)         # data and classifier loaded once

Images are uint8 (N, 28, 28), 0 = background, 255 = ink, everywhere in this module (what `sample -o X.npy`
writes and `load_dataset` returns); arrays and tensors are both accepted.

The evaluator is `classifier.DigitClassifier`, a small CNN trained on the embedded digits and shipped with
its SHA-256: its 128 penultimate activations are the features, its 10 logits the class probabilities.

The metrics (compute_metrics), on N generated images against the real training images:
- fid, kid: Frechet and kernel (cubic polynomial kernel, unbiased MMD^2, mean of 50 subsets of up to 1,000)
  distances between the classifier features of the generated and of all the real training images.
- inception_score: exp(E_x KL(p(y|x) || p(y))) with the classifier's p(y|x), mean over 10 splits (max 10).
- class_histogram, modes (classes above 2% of the images), kl_uniform (KL of the histogram to uniform).
- precision, recall: Kynkaanniemi et al. 2019, k = 3 nearest neighbours in feature space, against a fixed
  subset of min(N, all) real training images (the two sets should be the same size).
- parzen_ll, parzen_se, parzen_sigma: Goodfellow et al. 2014's Parzen window on pixels in [0, 1]: a Gaussian
  kernel on each generated image, sigma from logspace(-1, 0, 10) chosen by the mean log-likelihood of 1,000
  validation images, then the mean and standard error of the log-likelihood (nats) of the test images.
  Validation images are a fixed 1,000 training images; test images are the data set's test split when
  there is one (MNIST's official 10,000: comparable with the paper's 225 +- 2), otherwise (`digits`) a
  fixed other 1,000 training images, which the GAN has seen: compare such numbers only with each other.
- c2st_accuracy, c2st_spread, c2st_per_side, c2st_optimistic (only with `two_sample=True`): the classifier
  two-sample test of twosample.py, generated against real images: the data set's test split when it has one,
  else its training images, which the GAN has seen: then the figure is optimistic (a copy of a training image
  passes) and c2st_optimistic is true. The pictures it picks (the generated digits easiest and hardest to spot,
  beside real ones) come back under "two_sample_pictures" (uint8 arrays, not JSON).
- real_floor: the same metrics with real images in place of the generated ones: two disjoint halves A and B
  of the training images (min(N, what is left) each, none of the Parzen validation or test images), A
  playing the generated images and B the real ones (FID, KID, precision, recall of A against B; IS, modes
  and histogram of A; Parzen with A's images as the kernel centres). A model cannot be expected to beat it.
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
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vanilla_gan.checkpoint import load_generator
from vanilla_gan.classifier import FEATURE_DIM, NUM_CLASSES, DigitClassifier, extract, load_evaluator, weights_sha256
from vanilla_gan.data import default_cache_dir, fixed_order, load_split
from vanilla_gan.data.sources import LoadedImages, load_images
from vanilla_gan.errors import DataError, StorageError, UsageError, VanillaGanError
from vanilla_gan.fileio import atomic_write
from vanilla_gan.memorisation import check_memorisation
from vanilla_gan.rundir import RunDir, load_checkpoint, resolve_checkpoint
from vanilla_gan.sampling import sample_images
from vanilla_gan.schema import HEADLINE_METRICS, two_sample_sentence
from vanilla_gan.twosample import MIN_PER_SIDE, two_sample_test

METRICS_VERSION = 1  # part of the cache key: bump it when a metric's definition changes
TWO_SAMPLE_VERSION = 3  # the same for the two-sample test's floor (twosample.py's network, layout and schedule)
MODE_THRESHOLD = 0.02  # a class is a covered mode above this fraction of the images
PR_NEIGHBOURS = 3
KID_SUBSETS, KID_SUBSET_SIZE = 50, 1000
PARZEN_SIGMAS = tuple(float(s) for s in np.logspace(-1, 0, 10))
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


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and covariance (D, D), in float64."""
    x = features.double()
    return x.mean(0), torch.cov(x.T)


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)), with symmetric eigendecompositions only.

    In NumPy float64 on the CPU: these 128 x 128 problems take a millisecond there, and torch's threaded
    eigh can take a second on a busy CPU.
    """
    mu1, cov1, mu2, cov2 = (t.detach().cpu().double().numpy() for t in (mu1, cov1, mu2, cov2))
    values, vectors = np.linalg.eigh(cov1)
    root1 = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    # tr sqrt(cov1 cov2) = tr sqrt(root1 cov2 root1), a symmetric PSD matrix with the same eigenvalues.
    middle = root1 @ cov2 @ root1
    trace_root = np.sqrt(np.linalg.eigvalsh((middle + middle.T) / 2).clip(min=0)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * trace_root)


def kernel_distance(real: torch.Tensor, generated: torch.Tensor, subsets: int = KID_SUBSETS,
                    subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> float:
    """KID: the unbiased MMD^2 with k(x, y) = (x.y / D + 1)^3, averaged over random subsets of both sets.

    Subsets of m = min(subset_size, len(real), len(generated)) points, drawn without replacement by a
    NumPy generator seeded with `seed`, generated first; ten subsets at a time go through one batched product.
    """
    m = min(subset_size, len(real), len(generated))
    rng = np.random.default_rng(seed)
    draws = [(rng.choice(len(generated), m, replace=False), rng.choice(len(real), m, replace=False))
             for _ in range(subsets)]
    generated_index = torch.from_numpy(np.stack([i for i, _ in draws])).to(generated.device)  # (subsets, m)
    real_index = torch.from_numpy(np.stack([j for _, j in draws])).to(real.device)
    total = 0.0
    for start in range(0, subsets, 10):
        x = generated[generated_index[start:start + 10]].float()  # (S, m, D)
        y = real[real_index[start:start + 10]].float()
        # float32 kernels (S, m, m), summed in float64: the rounding errors average out over m^2 terms.
        k_xx, k_yy, k_xy = ((a @ b.mT / x.shape[2] + 1).pow_(3) for a, b in ((x, x), (y, y), (x, y)))
        within = sum(k.sum(dtype=torch.float64) - k.diagonal(dim1=1, dim2=2).sum(dtype=torch.float64)
                     for k in (k_xx, k_yy))
        total += float(within / (m * (m - 1)) - 2 * k_xy.sum(dtype=torch.float64) / m**2)
    return total / subsets


def inception_score(logits: torch.Tensor, splits: int = 10) -> float:
    """exp(E_x KL(p(y|x) || p(y))), p(y) the mean over each split; the mean over `splits` contiguous splits."""
    log_p = logits.double().log_softmax(1)
    scores = []
    for part in log_p.chunk(min(splits, len(log_p))):
        log_marginal = part.exp().mean(0).log()
        scores.append(float((part.exp() * (part - log_marginal)).sum(1).mean().exp()))
    return float(np.mean(scores))


def class_statistics(logits: torch.Tensor) -> tuple[list[float], int, float]:
    """The predicted classes' histogram (10 fractions), modes above MODE_THRESHOLD, KL(histogram || uniform)."""
    histogram = torch.bincount(logits.argmax(1), minlength=NUM_CLASSES).double() / len(logits)
    present = histogram[histogram > 0]
    kl = float((present * (present * NUM_CLASSES).log()).sum())
    return histogram.tolist(), int((histogram > MODE_THRESHOLD).sum()), kl


def precision_recall(real: torch.Tensor, generated: torch.Tensor, k: int = PR_NEIGHBOURS,
                     chunk: int = 1000) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019): the share of generated points inside the
    real manifold (the union of balls reaching each real point's k-th nearest real neighbour) and the share
    of real points inside the generated manifold."""
    real_radii, generated_radii = _knn_sq_radius(real, k, chunk), _knn_sq_radius(generated, k, chunk)
    precise = torch.zeros(len(generated), dtype=torch.bool, device=generated.device)
    recalled = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    for start in range(0, len(generated), chunk):  # one pass over the (generated, real) distances serves both
        sq = _sq_dists(generated[start:start + chunk], real)  # (c, R)
        precise[start:start + chunk] = (sq <= real_radii).any(1)
        recalled |= (sq <= generated_radii[start:start + chunk, None]).any(0)
    return float(precise.double().mean()), float(recalled.double().mean())


def parzen_log_likelihood(samples: torch.Tensor, validation: torch.Tensor, test: torch.Tensor,
                          sigmas: tuple[float, ...] = PARZEN_SIGMAS) -> tuple[float, float, float]:
    """Goodfellow et al. 2014: a Gaussian Parzen window on `samples` (N, 784); sigma is the one of `sigmas`
    with the best mean log-likelihood of `validation`. Returns the mean log-likelihood of `test` (nats),
    its standard error, and sigma."""
    best = int(np.argmax(_parzen_ll(samples, validation, sigmas).mean(1)))
    ll = _parzen_ll(samples, test, (sigmas[best],))[0]
    return float(ll.mean()), float(ll.std() / math.sqrt(len(ll))), sigmas[best]


def _parzen_ll(samples: torch.Tensor, points: torch.Tensor, sigmas: tuple[float, ...],
               chunk: int = 500) -> np.ndarray:
    """log p(point) under the Parzen window for each sigma: an array (len(sigmas), len(points)), float64."""
    n, dim = samples.shape
    out = np.empty((len(sigmas), len(points)))
    for start in range(0, len(points), chunk):
        sq = _sq_dists(points[start:start + chunk], samples)  # (c, N)
        for i, sigma in enumerate(sigmas):
            log_kernel = (-sq / (2 * sigma**2)).logsumexp(1).double()
            out[i, start:start + len(sq)] = (log_kernel - math.log(n)
                                             - dim / 2 * math.log(2 * math.pi * sigma**2)).cpu().numpy()
    return out


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (len(a), len(b)), never negative."""
    return ((a * a).sum(1, keepdim=True) + (b * b).sum(1) - 2 * a @ b.T).clamp(min=0)


def _knn_sq_radius(x: torch.Tensor, k: int, chunk: int = 1000) -> torch.Tensor:
    """The squared distance from each point to its k-th nearest other point."""
    radii = []
    for start in range(0, len(x), chunk):
        sq = _sq_dists(x[start:start + chunk], x)
        rows = torch.arange(len(sq), device=sq.device)
        sq[rows, rows + start] = -1  # the point itself is always the nearest: skip it
        radii.append(sq.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(radii)


# ---------------------------------------------------------------------------------------------------------
# All the metrics of a set of images, beside the real floor


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
