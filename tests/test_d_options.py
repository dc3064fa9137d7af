"""The options of D and the conv networks (issue: a discriminator that sees what gives the digits away): each does
what it says, is recorded and resumed, and reaches every command.

Run: python -m pytest tests/test_d_options.py -n 0 -q
"""

from __future__ import annotations

import json

import pytest
import torch
from helpers import TINY, assert_one_line_error, run_cli, run_main
from torch import nn

from vanilla_gan.config import ModelConfig, TrainConfig
from vanilla_gan.errors import UsageError
from vanilla_gan.gan.algorithm import GAN, DInputs, cutout, gan_step, r1_penalty, translate, update_d
from vanilla_gan.gan.models import (
    ConvDiscriminator,
    ConvGenerator,
    MinibatchStd,
    PairDiscriminator,
    Scores,
    build_discriminator,
    build_generator,
)
from vanilla_gan.training.trainer import Trainer, set_schedule


def digits_like(n: int = 64, shape: tuple[int, ...] = (28, 28), seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, *shape), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


# ----------------------------------------------------------------------------- R1


def test_r1_penalty_is_the_squared_input_gradient_averaged_over_real_images():
    torch.manual_seed(0)
    d = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Tanh(), nn.Linear(5, 1))
    seen = torch.randn(6, 3, 4, requires_grad=True)  # 3 real rows, then 3 generated
    scores = d(seen).squeeze(1)
    penalty = r1_penalty(scores[:3], seen)
    by_hand = []
    for i in range(3):  # each real image alone: |d score / d x|^2
        x = seen[i:i + 1].detach().requires_grad_(True)
        grad, = torch.autograd.grad(d(x).sum(), x)
        by_hand.append(grad.pow(2).sum())
    assert torch.allclose(penalty, torch.stack(by_hand).mean(), rtol=1e-5)
    # A linear D's input gradient is its weight: the penalty is |w|^2 for every image.
    lin = nn.Linear(12, 1)
    flat = torch.randn(4, 12, requires_grad=True)
    assert torch.allclose(r1_penalty(lin(flat).squeeze(1)[:2], flat), lin.weight.pow(2).sum(), rtol=1e-5)


def test_d_update_descends_bce_plus_the_weighted_penalty():
    torch.manual_seed(1)
    g, d = nn.Sequential(nn.Linear(3, 8), nn.Tanh()), nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 1))
    real, z = torch.rand(5, 8) * 2 - 1, torch.randn(5, 3)
    weights = [p.detach().clone() for p in d.parameters()]
    gan = GAN(g, Scores(d), Scores(d), torch.optim.SGD(g.parameters(), lr=0.1),
              torch.optim.SGD(d.parameters(), lr=0.1), r1=0.75)
    update_d(gan, real, z)
    # by hand: the same loss, SGD's step
    check = nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 1))
    for p, w in zip(check.parameters(), weights, strict=True):
        p.data.copy_(w)
    x = real.clone().requires_grad_(True)
    real_scores = check(x).squeeze(1)
    fake_scores = check(g(z).detach()).squeeze(1)
    grad, = torch.autograd.grad(real_scores.sum(), x, create_graph=True)
    loss = (nn.functional.binary_cross_entropy_with_logits(real_scores, torch.ones(5))
            + nn.functional.binary_cross_entropy_with_logits(fake_scores, torch.zeros(5))
            + 0.75 * grad.pow(2).sum(1).mean())
    loss.backward()
    for p, w in zip(d.parameters(), check.parameters(), strict=True):
        assert torch.allclose(p, w.detach() - 0.1 * w.grad, atol=1e-6)


def test_lazy_r1_weighs_every_kth_step_by_k_and_instance_noise_anneals():
    config = TrainConfig(epochs=2, batch_size=8, r1_gamma=3.0, r1_every=4, instance_noise=0.4, seed=1,
                         eval_every=0)
    trainer = Trainer(ModelConfig(), config, digits_like(32), progress=False)  # 4 steps an epoch, 8 in all
    weights = []
    for step in range(8):
        set_schedule(trainer.gan, trainer.config, step, 8)
        weights.append(trainer.gan.r1)
        if step in (0, 4):
            assert trainer.gan.view.sigma == pytest.approx(0.4 * (1 - step / 8))
    assert weights == [6.0, 0, 0, 0, 6.0, 0, 0, 0]
    trainer.train()
    assert trainer.step == 8 and not trainer.graphed


# ----------------------------------------------------------------------------- what D sees


def test_translation_moves_each_image_whole_and_fills_black():
    x = torch.full((200, 28, 28, 1), -1.0)
    x[:, 14, 14] = 1.0  # one white pixel in the middle
    moved = translate(x)
    assert (moved == 1).sum((1, 2, 3)).eq(1).all()  # the pixel is kept...
    where = (moved[..., 0] == 1).nonzero()[:, 1:] - 14
    assert where.abs().max() == 4 and len({tuple(w) for w in where.tolist()}) > 30  # ...moved up to 4 pixels
    edge = translate(torch.ones(50, 8, 8, 1))
    assert (edge == -1).any() and set(edge.unique().tolist()) == {-1.0, 1.0}  # borders come in black


def test_cutout_blacks_out_one_square_per_image():
    cut = cutout(torch.ones(300, 28, 28, 1))
    black = (cut == -1).sum((1, 2, 3))
    assert black.max() == 14 * 14 and black.min() > 0  # a 14 x 14 square, clipped at the borders
    assert len(set(black.tolist())) > 5


def test_augmentation_and_noise_reach_d_for_real_and_generated_images_alike():
    """D's update scores view(real + generated); G's update scores view(generated): the same transform."""
    torch.manual_seed(2)
    seen_batches = []

    class Recording(DInputs):
        def __call__(self, images):
            seen_batches.append(images.shape[0])
            return super().__call__(images)

    g, d = ConvGenerator(ModelConfig(g_net="conv", conv_width=4)), nn.Sequential(nn.Flatten(), nn.Linear(784, 1))
    view = Recording((28, 28), ["translation", "cutout"], sigma=0.2)
    gan = GAN(g, Scores(d), Scores(d), torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters()),
              view=view)
    gan_step(gan, torch.rand(6, 784) * 2 - 1, torch.randn(6, 100))
    assert seen_batches == [12, 6]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters() if p.dim() > 1)  # through it
    noisy = DInputs((28, 28), [], sigma=0.3)(torch.zeros(4000, 784))
    assert noisy.std().item() == pytest.approx(0.3, rel=0.03)
    assert not DInputs((28, 28)) and torch.equal(DInputs((28, 28))(torch.ones(2, 784)), torch.ones(2, 784))


# ----------------------------------------------------------------------------- D's layers


@pytest.mark.parametrize("d_net", ["mlp", "conv"])
def test_spectral_norm_holds_each_layer_near_one(d_net):
    torch.manual_seed(3)
    d = build_discriminator(ModelConfig(d_net=d_net, spectral_norm=True, conv_width=8, d_hidden=(64, 32)))
    layers = [m for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert len(layers) == 3
    d.train()
    for _ in range(30):  # each training forward is one power iteration
        d(torch.randn(4, 28, 28))
    d.eval()
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().reshape(layer.weight.shape[0], -1), 2)
        assert 0.98 < float(sigma) < 1.05, (layer, float(sigma))
    plain = build_discriminator(ModelConfig(d_net=d_net, conv_width=8, d_hidden=(64, 32)))
    first = next(m for m in plain.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    assert abs(float(torch.linalg.matrix_norm(first.weight.detach().reshape(first.weight.shape[0], -1), 2)) - 1) > 0.1


def test_minibatch_std_groups_never_mix_real_and_generated_images():
    torch.manual_seed(4)
    layer = MinibatchStd()
    x = torch.randn(16, 5)
    out = layer(x)
    assert out.shape == (16, 6)
    expected = x[:4].var(0, unbiased=False).add(1e-8).sqrt().mean()
    assert torch.allclose(out[:4, 5], expected.expand(4))
    changed = x.clone()
    changed[8:] += torch.randn(8, 5)  # the second half (generated) changes...
    assert torch.equal(layer(changed)[:8], out[:8])  # ...the first half's features do not
    assert layer(torch.randn(1, 5))[0, 5] == pytest.approx(1e-4)  # one image alone: std 0
    with pytest.raises(UsageError, match="multiple of 4"):
        Trainer(ModelConfig(minibatch_std=True), TrainConfig(batch_size=6), digits_like(32), progress=False)


def test_conv_networks_map_shapes_and_refuse_sides_not_multiple_of_4():
    for shape in [(28, 28), (8, 12, 3)]:
        config = ModelConfig(g_net="conv", d_net="conv", conv_width=4, image_shape=shape)
        g, d = build_generator(config), build_discriminator(config)
        assert isinstance(g, ConvGenerator) and isinstance(d, ConvDiscriminator)
        images = g(torch.randn(3, 100))
        assert images.shape == (3, *shape) and images.abs().max() < 1
        assert d.logits(images).shape == (3,) and d(images.reshape(3, -1)).shape == (3,)
    with pytest.raises(UsageError, match="multiples of 4"):
        ModelConfig(d_net="conv", image_shape=(30, 30)).validate()


def test_the_pair_d_sums_its_halves_logits_and_only_the_mlp_half_drops_out():
    config = ModelConfig(d_net="mlp+conv", conv_width=4, d_hidden=(16, 8), dropout=0.3)
    d = build_discriminator(config).eval()
    assert isinstance(d, PairDiscriminator) and isinstance(d.conv, ConvDiscriminator)
    images = torch.rand(5, 28, 28) * 2 - 1
    assert torch.allclose(d.logits(images), d.mlp.logits(images) + d.conv.logits(images))
    assert torch.allclose(d(images), torch.sigmoid(d.mlp.logits(images) + d.conv.logits(images)))
    assert {m.p for m in d.mlp.modules() if isinstance(m, nn.Dropout)} == {0.3}
    assert {m.p for m in d.conv.modules() if isinstance(m, nn.Dropout)} == {0.0}
    summed = d.logits(images).sum()
    summed.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in (d.mlp.net[0].weight, d.conv.out.weight))


def test_g_convs_add_3x3_convolutions_at_gs_smallest_scale():
    plain, deeper = (ConvGenerator(ModelConfig(g_net="conv", conv_width=4, g_convs=n)) for n in (0, 2))
    convs = [m for m in deeper.net if isinstance(m, nn.Conv2d) and not isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == 2 and all(c.kernel_size == (3, 3) and c.in_channels == c.out_channels == 8 for c in convs)
    assert not any(type(m) is nn.Conv2d for m in plain.net)
    assert deeper(torch.randn(3, 100)).shape == (3, 28, 28)
    with pytest.raises(UsageError, match="add --g-net conv"):
        ModelConfig(g_convs=1).validate()


def test_g_refine_draws_the_image_with_a_3x3_convolution_at_full_size():
    plain, refined = (ConvGenerator(ModelConfig(g_net="conv", conv_width=4, g_refine=r)) for r in (0, 5))
    last_t = [m for m in refined.net if isinstance(m, nn.ConvTranspose2d)][-1]
    assert last_t.out_channels == 5 and type(plain.net[-2]) is nn.ConvTranspose2d
    final = refined.net[-2]
    assert type(final) is nn.Conv2d and final.kernel_size == (3, 3)
    assert (final.in_channels, final.out_channels) == (5, 1)
    assert isinstance(refined.net[-1], nn.Tanh) and refined(torch.randn(3, 100)).shape == (3, 28, 28)
    # the last convolution sees each pixel's neighbours: a change to one input pixel moves a 3x3 block of the image
    x = torch.zeros(1, 5, 28, 28)
    with torch.no_grad():
        moved = final(x.index_put_((torch.tensor([0]), torch.tensor([0]), torch.tensor([10]), torch.tensor([10])),
                                   torch.tensor([1.0]))) - final(torch.zeros(1, 5, 28, 28))
    assert set(map(tuple, moved[0, 0].nonzero().tolist())) == {(i, j) for i in (9, 10, 11) for j in (9, 10, 11)}
    with pytest.raises(UsageError, match="add --g-net conv"):
        ModelConfig(g_refine=4).validate()


def test_without_g_refine_a_seed_draws_the_conv_g_it_drew_before_the_option():
    w = 4  # the conv G as it was built before --g-refine, layer by layer in the same order
    torch.manual_seed(3)
    before = nn.ModuleDict({"project": nn.Sequential(nn.Linear(100, 2 * w * 49), nn.BatchNorm1d(2 * w * 49), nn.ReLU()),
                            "net": nn.Sequential(nn.Conv2d(2 * w, 2 * w, 3, 1, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),
                                                 nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
                                                 nn.ConvTranspose2d(w, 1, 4, 2, 1), nn.Tanh())})
    torch.manual_seed(3)
    now = ConvGenerator(ModelConfig(g_net="conv", conv_width=w, g_convs=1))
    assert list(now.state_dict()) == list(before.state_dict())
    assert all(torch.equal(now.state_dict()[k], v) for k, v in before.state_dict().items())


def test_lr_d_sets_ds_rate_and_follows_the_cooldown():
    trainer = Trainer(ModelConfig(), TrainConfig(lr=1e-4, lr_d=4e-4, lr_cooldown=0.5, epochs=2, batch_size=8,
                                                 eval_every=0), digits_like(32), progress=False)
    assert trainer.opt_g.param_groups[0]["lr"] == 1e-4 and trainer.opt_d.param_groups[0]["lr"] == 4e-4
    trainer.train()
    g_lr, d_lr = trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]
    assert 0 < g_lr < 1e-4 and d_lr == pytest.approx(4 * g_lr)


# ----------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("args, words", [
    (["--augment", "flip"], "--augment takes translation and/or cutout"),
    (["--augment", "translation,translation"], "--augment takes"),
    (["--r1-gamma", "-1"], "--r1-gamma must be in [0, 10000]"),
    (["--r1-every", "0"], "--r1-every must be in 1..1000"),
    (["--instance-noise", "nan"], "--instance-noise must be a finite number"),
    (["--instance-noise", "0.1", "--minutes", "1"], "give --epochs, not --minutes"),
    (["--lr-d", "0"], "--lr-d must be a number in (0, 1]"),
    (["--d-net", "resnet"], "invalid choice"),
    (["--conv-width", "0"], "--conv-width must be in 1..1024"),
    (["--g-convs", "9", "--g-net", "conv"], "--g-convs must be in 0..8"),
    (["--g-convs", "1"], "add --g-net conv"),
    (["--g-refine", "-1", "--g-net", "conv"], "--g-refine must be in 0..256"),
    (["--g-refine", "8"], "add --g-net conv"),
    (["--g-net", "conv", "--image-size", "30"], "multiples of 4"),
    (["--d-net", "mlp+conv", "--image-size", "30"], "multiples of 4"),
    (["--recipe", "best", "--g-net", "mlp", "--g-convs", "2"], "add --g-net conv"),  # one the user typed
])
def test_bad_options_are_one_line_errors(tmp_path, args, words):
    line = assert_one_line_error(run_main("train", "--out", tmp_path / "run", *args))
    assert words in line
    assert not (tmp_path / "run").exists()


def test_a_run_with_every_option_is_recorded_resumed_and_read_by_every_command(tmp_path):
    run = tmp_path / "run"
    options = ["--g-net", "conv", "--g-convs", "1", "--g-refine", "4", "--d-net", "mlp+conv", "--conv-width", "8",
               "--spectral-norm", "--minibatch-std",
               "--augment", "translation,cutout", "--instance-noise", "0.2", "--r1-gamma", "0.5", "--r1-every", "2",
               "--lr-d", "3e-4"]
    tiny = [a for a in TINY if a not in ("--latent-dim", "8", "--g-hidden", "32,32", "--d-hidden")]
    result = run_cli("train", *tiny, *options, "--epochs", "1", "--seed", "1", "--out", run, "--no-report")
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["g_net"] == "conv" and config["model"]["spectral_norm"] is True
    assert config["model"]["d_net"] == "mlp+conv" and config["model"]["g_convs"] == 1
    assert config["model"]["g_refine"] == 4
    assert config["train"]["augment"] == "translation,cutout" and config["train"]["r1_every"] == 2
    refused = assert_one_line_error(run_main("train", "--out", run, "--resume", "--epochs", "2", "--r1-gamma", "1"))
    assert "--r1-gamma" in refused and "must match" in refused
    resumed = run_cli("train", "--out", run, "--resume", "--epochs", "2", "--no-report")
    assert resumed.returncode == 0, resumed.stderr
    for command in (["sample", run, "-n", "8", "-o", tmp_path / "s.png"],
                    ["sample", run, "--interpolate", "-n", "2", "--frames", "4", "-o", tmp_path / "w.gif"],
                    ["export", run, "-o", tmp_path / "g.pt"], ["explore", run, "-o", tmp_path / "page.html"],
                    ["report", run]):
        done = run_main(*command)
        assert done.returncode == 0, (command, done.stderr)
    assert (run / "report.html").exists() and (tmp_path / "page.html").stat().st_size > 10_000


def test_recipe_best_is_the_studys_combination_and_options_beside_it_win(tmp_path):
    from vanilla_gan.config import RECIPES

    run = tmp_path / "best"
    result = run_cli("train", "--recipe", "best", "--epochs", "1", "--limit", "256", "--eval-every", "0",
                     "--seed", "1", "--out", run, "--no-report")
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    given = {"epochs": 1, "minutes": None, "eval_every": 0}  # the length typed replaces both parts of the recipe's
    for name, value in RECIPES["best"].items():
        part = "model" if name in ModelConfig.__dataclass_fields__ else "train"
        assert config[part][name] == given.get(name, value), name
    # the recipe's G convolutions follow its conv G: with the MLP G beside the recipe, they are left out
    mlp_g = tmp_path / "mlp-g"
    result = run_cli("train", "--recipe", "best", "--g-net", "mlp", "--epochs", "1", "--limit", "256",
                     "--eval-every", "0", "--seed", "1", "--out", mlp_g, "--no-report")
    assert result.returncode == 0, result.stderr
    model = json.loads((mlp_g / "config.json").read_text())["model"]
    assert model["g_net"] == "mlp" and model["g_convs"] == model["g_refine"] == 0
    assert model["d_net"] == RECIPES["best"]["d_net"]


def test_a_recipes_length_is_its_epochs_within_its_minutes_and_a_length_typed_replaces_both():
    from vanilla_gan.config import RECIPES, with_recipe

    best = RECIPES["best"]
    assert with_recipe("best", {})["epochs"] == best["epochs"] and with_recipe("best", {})["minutes"] == best["minutes"]
    longer = with_recipe("best", {"epochs": 100})
    assert longer["epochs"] == 100 and "minutes" not in longer  # 100 epochs, not cut at the recipe's minutes
    budget = with_recipe("best", {"minutes": 20})
    assert budget["minutes"] == 20 and "epochs" not in budget  # 20 minutes, not cut at the recipe's epochs
    both = with_recipe("best", {"epochs": 3, "minutes": 1})
    assert (both["epochs"], both["minutes"]) == (3, 1)
