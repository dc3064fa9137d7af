"""vanilla-gan: the classic GAN (Goodfellow et al. 2014) on handwritten digits, done right.

    from vanilla_gan.config import ModelConfig
    from vanilla_gan.models import Generator, Discriminator
    G, D = Generator(ModelConfig()), Discriminator(ModelConfig())

The command-line tool is `vanilla-gan` (see `vanilla-gan --help`).
"""

__version__ = "0.1.0"
