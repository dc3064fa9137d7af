"""The evaluation's metric formulas, each a function of features, logits or pixels (evaluator.py computes them
with the bundled digit classifier and caches the real images' side).

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
"""

from __future__ import annotations

import math

import numpy as np
import torch

NUM_CLASSES = 10  # the digit classifier's classes
MODE_THRESHOLD = 0.02  # a class is a covered mode above this fraction of the images
PR_NEIGHBOURS = 3
KID_SUBSETS, KID_SUBSET_SIZE = 50, 1000
PARZEN_SIGMAS = tuple(float(s) for s in np.logspace(-1, 0, 10))


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
