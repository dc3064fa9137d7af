"""The classic MLP GAN's networks (models.py): sizes, parameter counts, output shapes and ranges, the logits/BCE
equivalence, the fast dropout, the moving average, and the check of networks users bring.

Run: python -m pytest tests/test_models.py
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vanilla_gan.config import ModelConfig
from vanilla_gan.errors import UsageError
from vanilla_gan.gan.models import Discriminator, Generator, MovingAverage, Scores, check_networks, count_parameters


def test_default_parameter_counts_are_the_classic_models():
    config = ModelConfig()
    assert count_parameters(Generator(config)) == 1_486_352
    assert count_parameters(Discriminator(config)) == 1_460_225


def test_default_layers_follow_the_classic_mlp():
    G, D = Generator(ModelConfig()), Discriminator(ModelConfig())
    g_linear = [m for m in G.net if isinstance(m, nn.Linear)]
    d_linear = [m for m in D.net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in g_linear] == [(100, 256), (256, 512), (512, 1024), (1024, 784)]
    assert [(m.in_features, m.out_features) for m in d_linear] == [(784, 1024), (1024, 512), (512, 256), (256, 1)]
    assert [m.negative_slope for m in G.net if isinstance(m, nn.LeakyReLU)] == [0.2] * 3
    assert [m.p for m in D.net if isinstance(m, nn.Dropout)] == [0.3] * 3
    assert isinstance(G.net[-1], nn.Tanh)
    # Each of D's hidden Linear layers is followed by LeakyReLU then Dropout.
    kinds = [next(k for k in (nn.Linear, nn.LeakyReLU, nn.Dropout) if isinstance(m, k)) for m in D.net]
    assert kinds == [nn.Linear, nn.LeakyReLU, nn.Dropout] * 3 + [nn.Linear]


def test_output_shapes_and_ranges():
    torch.manual_seed(0)
    G, D = Generator(ModelConfig()), Discriminator(ModelConfig())
    images = G(torch.randn(16, 100) * 10)  # large z to push Tanh towards its limits
    assert images.shape == (16, 28, 28)  # images, the one shape everywhere
    assert images.min() >= -1 and images.max() <= 1
    p = D(images)
    assert p.shape == (16,)
    assert ((p > 0) & (p < 1)).all()
    assert D(images.reshape(16, 784)).shape == (16,)  # flat images too


def test_options_change_the_model():
    config = ModelConfig(latent_dim=8, g_hidden=(16,), d_hidden=(32, 8), slope=0.1, dropout=0.0)
    G, D = Generator(config), Discriminator(config)
    assert G(torch.randn(2, 8)).shape == (2, 28, 28)
    assert count_parameters(G) == 8 * 16 + 16 + 16 * 784 + 784
    assert count_parameters(D) == 784 * 32 + 32 + 32 * 8 + 8 + 8 + 1


@pytest.mark.parametrize("bad", [dict(latent_dim=0), dict(g_hidden=()), dict(d_hidden=(64, 0)),
                                 dict(slope=-0.1), dict(dropout=1.0)])
def test_nonsense_model_options_are_rejected(bad):
    with pytest.raises(UsageError):
        ModelConfig(**bad).validate()


def test_logits_with_bce_with_logits_equal_sigmoid_with_bce():
    """Training uses logits + BCE-with-logits; it is the original Sigmoid + BCE, for both targets."""
    torch.manual_seed(1)
    D = Discriminator(ModelConfig()).eval()  # eval: the same dropout mask (none) for both paths
    x = torch.rand(32, 784) * 2 - 1
    for target in (torch.ones(32), torch.zeros(32)):
        seed_loss = F.binary_cross_entropy(D(x), target)
        ours = F.binary_cross_entropy_with_logits(D.logits(x), target)
        torch.testing.assert_close(ours, seed_loss, rtol=1e-5, atol=1e-6)
    # The literal minimax G loss, log(1 - D(G(z))), is -BCE with target 0.
    torch.testing.assert_close(-F.binary_cross_entropy_with_logits(D.logits(x), torch.zeros(32)),
                               torch.log(1 - D(x)).mean(), rtol=1e-5, atol=1e-6)


def test_dropout_keeps_the_expected_share_and_scale():
    """The fast Dropout is nn.Dropout's function: P(zero) = p, survivors scaled by 1/(1-p), off in eval."""
    from vanilla_gan.gan.models import Dropout

    torch.manual_seed(0)
    layer = Dropout(0.3)
    x = torch.ones(1000, 1000, requires_grad=True)
    y = layer(x)
    zeroed = (y == 0).float().mean().item()
    assert abs(zeroed - 0.3) < 0.003  # 1e6 draws: the standard error is 0.00046
    torch.testing.assert_close(y[y != 0], torch.full_like(y[y != 0], 1 / 0.7))
    y.sum().backward()
    torch.testing.assert_close(x.grad, y.detach())  # the gradient flows through the same mask and scale
    assert torch.equal(layer.eval()(x), x)


def test_the_moving_average_follows_its_network_with_a_warm_up():
    net = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = MovingAverage(net, decay=0.99)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(step=0)  # warm-up: decay min(0.99, 1/10), the average moves 90% of the way
    torch.testing.assert_close(ema.module.weight, torch.full((1, 2), 0.9))
    ema.update(step=10**6)  # later: the full decay, 1% of the way
    torch.testing.assert_close(ema.module.weight, torch.full((1, 2), 0.9 + 0.1 * 0.01))
    assert not ema.module.weight.requires_grad and net.weight.requires_grad


def test_scores_are_the_logits_of_our_d_and_the_output_of_any_other():
    D = Discriminator(ModelConfig()).eval()
    x = torch.rand(3, 28, 28) * 2 - 1
    torch.testing.assert_close(Scores(D)(x), D.logits(x))
    other = nn.Sequential(nn.Flatten(), nn.Linear(784, 1))
    assert Scores(other)(x).shape == (3,)


def test_check_networks_names_what_is_wrong():
    config = ModelConfig()
    check_networks(Generator(config), Discriminator(config), 100)  # the package's own pass
    with pytest.raises(UsageError, match=r"maps z \(2, 100\) to \(2, 10\)"):
        check_networks(nn.Linear(100, 10), Discriminator(config), 100)
    with pytest.raises(UsageError, match="1568 values"):
        check_networks(Generator(config), nn.Flatten(), 100)
