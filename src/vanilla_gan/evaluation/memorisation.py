"""Has G memorised its training digits? Nearest training images of generated ones, against real-vs-real.

    result = check_memorisation(generator, train_images)    # train_images: uint8 (N, 28, 28) or (N, H, W[, 3])
    print(result.verdict)                                    # one line, for the report
    result.summary()                                         # the figures as JSON (evaluate on other data)

It needs no classifier, so `evaluate` reports it for data the digit classifier does not know; the report shows it
for every run.

For `num` generated digits, the nearest training digit by pixel distance (L2, pixels in [0, 1]); for
`num` training digits, the nearest *other* training digit. A generator that copies its training data
puts many samples closer to a training digit than real digits are to each other: the verdict counts the
samples below the real distances' 5th percentile (about 5% expected without memorisation) and the
near-copies (below a quarter of that percentile).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vanilla_gan.data import fixed_order
from vanilla_gan.gan.sampling import sample_images

PERCENTILE = 5.0
COPY_FACTOR = 0.25


@dataclass
class Memorisation:
    generated: np.ndarray  # uint8 (M, 28, 28) samples ((M, H, W[, 3]) for other images)
    nearest: np.ndarray  # uint8, the same shape: the nearest training image of each sample
    generated_distances: np.ndarray  # (M,)
    real_distances: np.ndarray  # (M,) real digit to its nearest other training digit
    below_share: float  # share of samples closer than the real distances' 5th percentile
    copies: int  # samples closer than COPY_FACTOR x that percentile
    level: str  # "ok" or "warning"
    verdict: str

    def summary(self) -> dict:
        """The figures as plain JSON: level, verdict, below_share, near_copies, the two median distances."""
        return {"level": self.level, "verdict": self.verdict, "below_share": self.below_share,
                "near_copies": self.copies, "median_distance": float(np.median(self.generated_distances)),
                "real_median_distance": float(np.median(self.real_distances))}

    def closest(self, k: int) -> np.ndarray:
        """Indices of the k samples nearest to a training digit (the most suspicious), closest first."""
        return np.argsort(self.generated_distances)[:k]


def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, exclude_self: bool = False,
                       chunk: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(distance, index) of each query's nearest reference row; float (Q, D), (R, D).

    With `exclude_self`, the queries are the first Q reference rows and each skips itself.
    """
    distances, indices = [], []
    for start in range(0, len(queries), chunk):
        d = torch.cdist(queries[start:start + chunk], reference)  # (chunk, R)
        if exclude_self:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = float("inf")
        best = d.min(1)
        distances.append(best.values)
        indices.append(best.indices)
    return torch.cat(distances).numpy(), torch.cat(indices).numpy()


def check_memorisation(generator: torch.nn.Module, train_images: np.ndarray | torch.Tensor, num: int = 1000,
                       seed: int = 0, device: str | torch.device = "cpu") -> Memorisation:
    """Nearest-training-image distances of `num` samples and of `num` training images, and a verdict."""
    train = torch.as_tensor(np.asarray(train_images)).reshape(len(train_images), -1)
    num = min(num, len(train) - 1)
    reference = train.float() / 255  # (N, H * W * C)
    generated = sample_images(generator, num, seed=seed, device=device)  # uint8 (M, 28, 28)
    queries = torch.from_numpy(generated).reshape(num, -1).float() / 255
    gen_d, gen_i = nearest_neighbours(queries, reference)
    # The real digits: a fixed sample of the training set, moved to the front so that "self" is row i.
    order = torch.from_numpy(fixed_order(len(train)).copy())
    reordered = reference[order]
    real_d, _ = nearest_neighbours(reordered[:num], reordered, exclude_self=True)

    threshold = float(np.percentile(real_d, PERCENTILE))
    below = float((gen_d < threshold).mean())
    copies = int((gen_d < COPY_FACTOR * threshold).sum())
    level, verdict = _verdict(gen_d, real_d, below, copies, threshold)
    nearest = train[gen_i].reshape(-1, *generated.shape[1:]).numpy()  # (M, H, W[, 3])
    return Memorisation(generated, nearest, gen_d, real_d, below, copies, level, verdict)


def _verdict(gen_d: np.ndarray, real_d: np.ndarray, below: float, copies: int, threshold: float) -> tuple[str, str]:
    medians = (f"median distance to the nearest training image {np.median(gen_d):.2f} for generated images, "
               f"{np.median(real_d):.2f} between real ones")
    expected = PERCENTILE / 100
    counts = (f"{below:.1%} of the samples lie closer to a training image than {1 - expected:.0%} of real images "
              f"lie to their nearest other one ({threshold:.2f}; new images would give about {expected:.0%}, and "
              f"above {3 * expected:.0%} is a warning), {copies} near-cop{'y' if copies == 1 else 'ies'}")
    if copies > 0.01 * len(gen_d) or below > 3 * expected:
        return "warning", f"Possible memorisation: {counts}; {medians}. Look at the closest pairs below."
    far = np.median(gen_d) > 1.3 * np.median(real_d)
    tail = " The samples are farther from the training images than real images are from each other: still " \
           "unformed or blurry, rather than copied." if far else ""
    closer = "" if below <= 1.5 * expected else " (closer than new images would be, but below the warning line)"
    return "ok", f"No sign of copying{closer}: {counts}; {medians}.{tail}"
