"""The metrics (evaluate.py): each against an independent NumPy/SciPy computation, sanity on real and
mode-collapsed images, the cache, the table, a checkpoint, the Evaluator. (The classifier: test_classifier.py.)

    python -m pytest tests/test_evaluate.py -q       (needs scipy, in the dev extra)
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import linalg, special, stats
from scipy.spatial.distance import cdist

from vanilla_gan.config import ModelConfig, TrainConfig, to_dict
from vanilla_gan.data.sources import LoadedImages
from vanilla_gan.errors import UsageError
from vanilla_gan.evaluation import classifier as cl
from vanilla_gan.evaluation import evaluator as ev
from vanilla_gan.evaluation import metrics
from vanilla_gan.gan.models import Discriminator, Generator
from vanilla_gan.runs import checkpoint, schema


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One evaluation cache for the module, so the real features are computed once."""
    return tmp_path_factory.mktemp("eval-cache")


def correlated(rng: np.random.Generator, n: int, dim: int, shift: float = 0.0) -> np.ndarray:
    """n points in dim dimensions with a random covariance, like real features."""
    return rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim)) / np.sqrt(dim) + shift


# ----------------------------------------------------------------------------- each metric, independently

def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a, b = correlated(rng, 400, 12), correlated(rng, 300, 12, shift=0.5)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * linalg.sqrtm(cov_a @ cov_b).real)
    stats_a, stats_b = (metrics.gaussian_stats(torch.from_numpy(x)) for x in (a, b))
    got = metrics.frechet_distance(*stats_a, *stats_b)
    assert got == pytest.approx(expected, rel=1e-8)
    same = metrics.gaussian_stats(torch.from_numpy(a))
    assert abs(metrics.frechet_distance(*same, *same)) < 1e-9


def test_kernel_distance_matches_numpy_unbiased_mmd():
    rng = np.random.default_rng(1)
    x, y = correlated(rng, 150, 8), correlated(rng, 120, 8, shift=0.3)  # x real, y generated

    def kernel(a, b):
        return (a @ b.T / a.shape[1] + 1) ** 3

    def mmd(a, b):  # unbiased MMD^2 of two sets of the same size
        m = len(a)
        k_aa, k_bb = kernel(a, a), kernel(b, b)
        return ((k_aa.sum() - np.trace(k_aa)) + (k_bb.sum() - np.trace(k_bb))) / (m * (m - 1)) \
            - 2 * kernel(a, b).mean()

    # One subset as large as the smaller set: the whole of y against a random 120 of x.
    got = metrics.kernel_distance(torch.from_numpy(x), torch.from_numpy(y), subsets=1, subset_size=1000, seed=5)
    picked = np.random.default_rng(5)
    y_index = picked.choice(120, 120, replace=False)
    x_index = picked.choice(150, 120, replace=False)
    assert got == pytest.approx(mmd(y[y_index], x[x_index]), rel=1e-5)

    same = metrics.kernel_distance(torch.from_numpy(x[:75]), torch.from_numpy(x[75:]), subsets=20, subset_size=50)
    apart = metrics.kernel_distance(torch.from_numpy(x), torch.from_numpy(y + 2.0), subsets=20, subset_size=50)
    assert abs(same) < apart / 20


def test_inception_score_and_class_statistics_match_scipy():
    rng = np.random.default_rng(2)
    logits = rng.normal(scale=3, size=(1000, 10))
    p = special.softmax(logits, axis=1)
    expected = np.mean([np.exp(np.mean([stats.entropy(row, part.mean(0)) for row in part]))
                        for part in np.split(p, 10)])
    assert metrics.inception_score(torch.from_numpy(logits)) == pytest.approx(expected, rel=1e-10)
    one_hot = torch.eye(10).repeat(50, 1) * 100  # confident and even: the maximum, 10
    assert metrics.inception_score(one_hot, splits=1) == pytest.approx(10, rel=1e-6)

    histogram, modes, kl = metrics.class_statistics(torch.from_numpy(logits))
    counts = np.bincount(logits.argmax(1), minlength=10) / len(logits)
    np.testing.assert_allclose(histogram, counts)
    assert modes == int((counts > 0.02).sum())
    assert kl == pytest.approx(stats.entropy(counts, np.full(10, 0.1)), rel=1e-10)


def test_precision_recall_match_brute_force_scipy():
    rng = np.random.default_rng(3)
    real, fake = correlated(rng, 300, 6), correlated(rng, 250, 6, shift=0.4) * 1.3

    def radii(points, k=3):  # distance to the k-th nearest other point
        return np.sort(cdist(points, points), axis=1)[:, k]

    expected_precision = (cdist(fake, real) <= radii(real)[None, :]).any(1).mean()
    expected_recall = (cdist(real, fake) <= radii(fake)[None, :]).any(1).mean()
    precision, recall = metrics.precision_recall(torch.from_numpy(real).float(), torch.from_numpy(fake).float(),
                                            chunk=64)  # small chunks exercise the chunking
    assert 0.1 < expected_precision < 0.95 and 0.1 < expected_recall < 0.95  # not a trivial case
    assert precision == pytest.approx(expected_precision, abs=1 / 250)  # one point of float32 slack
    assert recall == pytest.approx(expected_recall, abs=1 / 300)


def test_parzen_matches_scipy_logsumexp(digits):
    pixels = digits[0][ev.fixed_order(len(digits[0]))[:500]].reshape(500, -1).double().numpy() / 255
    samples, validation, test = pixels[:300], pixels[300:400], pixels[400:]

    def log_likelihood(points, sigma):
        sq = cdist(points, samples, "sqeuclidean")
        return special.logsumexp(-sq / (2 * sigma**2), axis=1) - np.log(len(samples)) \
            - samples.shape[1] / 2 * np.log(2 * np.pi * sigma**2)

    sigmas = np.logspace(-1, 0, 10)
    best = sigmas[np.argmax([log_likelihood(validation, s).mean() for s in sigmas])]
    expected = log_likelihood(test, best)
    ll, se, sigma = metrics.parzen_log_likelihood(*(torch.from_numpy(a).float() for a in (samples, validation, test)))
    assert sigma == pytest.approx(best) and 0.1 < sigma < 1
    assert ll == pytest.approx(expected.mean(), abs=0.05)
    assert se == pytest.approx(expected.std() / np.sqrt(len(expected)), rel=1e-3)


# ----------------------------------------------------------------------------- compute_metrics on images

@pytest.fixture(scope="module")
def real_result(digits, evaluator, cache):
    """The metrics of 1,000 real digits playing the generated ones, and whether the global RNGs moved."""
    images = digits[0]
    generated = images[ev.fixed_order(len(images))[-1000:]]  # none of the Parzen or floor images
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    result = ev.compute_metrics(generated, images, cache_dir=cache, evaluator=evaluator)
    untouched = torch.equal(torch.get_rng_state(), torch_state) and np.array_equal(np.random.get_state()[1],
                                                                                     numpy_state)
    return result, untouched


def test_real_digits_score_near_the_floor_and_the_rng_is_untouched(real_result):
    result, rng_untouched = real_result
    assert rng_untouched
    floor = result["real_floor"]
    keys = set(schema.METRIC_KEYS) - set(schema.TWO_SAMPLE_KEYS)  # the two-sample test: tests/test_twosample.py
    assert keys <= set(result) and keys == set(floor)
    assert result["evaluator_sha256"] == cl.EVALUATOR_SHA256
    assert result["modes"] == floor["modes"] == 10
    assert result["fid"] < 5 and floor["fid"] < 5
    assert result["inception_score"] > 8.5 and result["kl_uniform"] < 0.05
    assert result["precision"] > 0.8 and result["recall"] > 0.8
    assert abs(result["kid"]) < 0.5
    assert sum(result["class_histogram"]) == pytest.approx(1)
    json.dumps(result)  # plain Python numbers only


def test_mode_collapse_is_caught(digits, evaluator, cache, real_result):
    images, labels = digits
    collapsed = ev.compute_metrics(images[labels == 1][:500], images, cache_dir=cache, evaluator=evaluator)
    real = real_result[0]
    assert collapsed["modes"] == 1 and collapsed["class_histogram"][1] > 0.95
    assert collapsed["kl_uniform"] > 2.0  # log 10 = 2.30 for a single class
    assert collapsed["recall"] < 0.4 < 0.8 < real["recall"]  # outlying 1s with wide balls still reach some 7s
    assert collapsed["fid"] > 20 * real["fid"] and collapsed["inception_score"] < 1.5


def test_images_must_be_uint8_28_by_28(digits):
    with pytest.raises(UsageError, match="expected uint8"):
        ev.compute_metrics(digits[0][:100].float(), digits[0])
    with pytest.raises(UsageError, match="at least 20 generated"):
        ev.compute_metrics(digits[0][:5], digits[0])


def test_real_statistics_and_floor_come_from_the_cache(digits, evaluator, tmp_path, monkeypatch):
    real, generated = digits[0][::5], digits[0][1::50]  # 2,000 and 200 digits of every class
    sizes = []
    real_extract = cl.extract
    monkeypatch.setattr(ev, "extract", lambda model, x, *a: sizes.append(len(x)) or real_extract(model, x, *a))
    first = ev.compute_metrics(generated, real, cache_dir=tmp_path, evaluator=evaluator)
    assert sorted(sizes) == [200, 200, 2000]  # the generated images, the real ones, the floor's half A
    assert len(list(tmp_path.glob("real-*.npz"))) == len(list(tmp_path.glob("floor-*.json"))) == 1

    sizes.clear()
    second = ev.compute_metrics(generated, real, cache_dir=tmp_path, evaluator=evaluator)
    assert sizes == [200]  # only the generated images went through the network
    assert second == first

    for stale in tmp_path.glob("floor-*.json"):
        stale.unlink()
    sizes.clear()
    assert ev.compute_metrics(generated, real, cache_dir=tmp_path, evaluator=evaluator) == first
    assert sizes == [200, 200]  # the floor again (half A), but still not the real features


def test_format_table_shows_each_metric_beside_the_floor():
    metrics = {"fid": 4.1, "kid": 0.0123, "inception_score": 8.7, "modes": 9, "kl_uniform": 0.05,
               "class_histogram": [0.1] * 10, "precision": 0.7, "recall": 0.6, "parzen_ll": 201.3,
               "parzen_se": 2.1, "parzen_sigma": 0.2}
    table = ev.format_table({**metrics, "real_floor": {**metrics, "fid": 1.3}})
    assert "FID" in table and "4.10" in table and "(real data: 1.30)" in table
    for label in ("KID", "Inception Score", "Modes covered", "KL to uniform", "Precision", "Recall", "Parzen"):
        line = next(line for line in table.splitlines() if line.startswith(label))
        assert "real data:" in line, line
    assert "201.3 ± 2.1" in table


def test_evaluate_checkpoint_of_a_tiny_generator(tmp_path, cache):
    model = ModelConfig(latent_dim=8, g_hidden=(32,), d_hidden=(32,))
    torch.manual_seed(0)
    generator = Generator(model)
    state = {"model_config": to_dict(model), "train_config": to_dict(TrainConfig(limit=64, seed=1)),
             "generator": generator.state_dict(), "generator_ema": None,
             "discriminator": Discriminator(model).state_dict(), "epoch": 3, "step": 9}
    (tmp_path / "checkpoints").mkdir()
    checkpoint.save(tmp_path / "checkpoints" / "last.pt", state)
    result = ev.evaluate_checkpoint(tmp_path, num_samples=200, cache_dir=cache)  # a run folder works
    assert result["epoch"] == 3 and result["num_samples"] == 200 and result["dataset"] == "digits"
    assert result["fid"] > 10 * result["real_floor"]["fid"]  # an untrained generator draws noise
    again = ev.evaluate_checkpoint(tmp_path / "checkpoints" / "last.pt", num_samples=200, cache_dir=cache)
    assert again == result  # seeded noise: the same samples, the same numbers


def test_an_evaluator_scores_a_generator_and_loads_its_data_once(cache, monkeypatch):
    torch.manual_seed(0)
    generator = Generator(ModelConfig(latent_dim=8, g_hidden=(32,), d_hidden=(32,)))
    evaluator = ev.Evaluator("digits", num_samples=200, cache_dir=cache)
    first = evaluator(generator)
    monkeypatch.setattr(ev, "load_images", lambda *a: pytest.fail("the data set was loaded again"))
    assert evaluator(generator) == first and set(schema.METRIC_KEYS) - set(schema.TWO_SAMPLE_KEYS) <= set(first)


def test_a_cache_folder_that_does_not_exist_yet_is_made(tmp_path, monkeypatch):
    """A new machine has no ~/.cache/vanilla-gan/eval: the first evaluation makes it (and never fails on it)."""
    monkeypatch.setenv("VANILLA_GAN_DATA", str(tmp_path / "fresh-cache"))
    torch.manual_seed(0)
    generator = Generator(ModelConfig(latent_dim=8, g_hidden=(32,), d_hidden=(32,)))
    result = ev.Evaluator("digits", num_samples=200)(generator)
    assert result["fid"] > 0 and list((tmp_path / "fresh-cache" / "eval").glob("real-*.npz"))
    monkeypatch.setenv("VANILLA_GAN_DATA", "/proc/no-such-cache")  # unwritable: only slower
    assert ev.Evaluator("digits", num_samples=200)(generator)["fid"] == pytest.approx(result["fid"])


def test_other_data_gets_the_two_sample_test_and_says_why_the_rest_is_absent(cache):
    """Colour pictures (or anything the digit classifier does not know): no FID/IS/precision, a line saying why."""
    torch.manual_seed(0)
    generator = Generator(ModelConfig(latent_dim=8, g_hidden=(32,), image_shape=(12, 12, 3)))
    data = LoadedImages(torch.randint(0, 256, (300, 12, 12, 3), dtype=torch.uint8), None, "pics", "pictures")
    result = ev.Evaluator("pics", num_samples=200, cache_dir=cache, data=data)(generator, two_sample=True)
    assert 0.5 <= result["c2st_accuracy"] <= 1 and result["c2st_optimistic"] is True
    assert "fid" not in result and "inception_score" not in result and "digit classifier" in result["absent"]
    table = ev.format_table({**result, "epoch": 1, "num_samples": 200, "dataset": "pics"})
    assert "Two-sample accuracy" in table and "absent" in table and "FID" not in table.split("Note:")[0]
    assert ev.Evaluator("pics", num_samples=200, cache_dir=cache, data=data)(generator) == {
        "absent": ev.ABSENT, "real_floor": {}}  # the periodic evaluations: nothing to compute without the test
