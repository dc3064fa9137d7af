"""The arms of the discriminator study (docs/experiments/discriminator.md): each a name and the `vg.train` options
that differ from the default, shared by the speed benchmark (benchmarks/d_options_speed.py) and the study
(experiments/d_options.py).

    ARMS["dcgan"]          # {'g_net': 'conv', 'd_net': 'conv', ...}
"""

from __future__ import annotations

# G with a 3x3 convolution at 7x7 against the MLP D and a conv D side by side, held by a lazy R1 penalty
PAIR = {"g_net": "conv", "g_convs": 1, "d_net": "mlp+conv", "ema_decay": 0.999, "conv_width": 48, "r1_gamma": 1.0,
        "r1_every": 16}

ARMS: dict[str, dict] = {
    "default": {},
    # What D sees (the classic networks kept)
    "translation": {"augment": "translation"},
    "translation-cutout": {"augment": "translation,cutout"},
    "noise-0.3": {"instance_noise": 0.3},
    "noise-0.1": {"instance_noise": 0.1},
    # How D is held back
    "r1-1": {"r1_gamma": 1.0},
    "r1-0.1": {"r1_gamma": 0.1},
    "r1-10-lazy": {"r1_gamma": 10.0, "r1_every": 16},
    "sn": {"spectral_norm": True},
    "ttur": {"lr": 1e-4, "lr_d": 4e-4},
    "mbstd": {"minibatch_std": True},
    # D's network
    "conv-d": {"d_net": "conv"},
    "conv-d-sn": {"d_net": "conv", "spectral_norm": True},
    "conv-d-r1": {"d_net": "conv", "r1_gamma": 1.0},
    # the DCGAN-style pair, the reference for what the algorithm reaches with convolutions
    "dcgan": {"g_net": "conv", "d_net": "conv", "ema_decay": 0.999},
    "dcgan-sn": {"g_net": "conv", "d_net": "conv", "spectral_norm": True, "ema_decay": 0.999},
    # G's network alone: the DCGAN-style G against the classic D
    "conv-g": {"g_net": "conv", "ema_decay": 0.999},
    # the DCGAN pair's D without dropout (as in Radford et al.), plain or normalised
    "dcgan-nodrop": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999},
    "dcgan-sn-nodrop": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "spectral_norm": True, "ema_decay": 0.999},
    # cheaper DCGAN pairs: more images in the same time
    "dcgan-nodrop-b64": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999, "batch_size": 64},
    "dcgan-nodrop-w32": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999, "conv_width": 32},
    "dcgan-nodrop-w32-b64": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999, "conv_width": 32,
                             "batch_size": 64},
    "dcgan-w64-lrd": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999, "lr_d": 4e-4},
    "conv-d-w32-noise": {"d_net": "conv", "conv_width": 32, "instance_noise": 0.3},
    "dcgan-w32-lrd": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999, "conv_width": 32,
                      "lr_d": 4e-4},
    # the width-32 pair with DiffAugment's translation (translation-equivariant D) or a lazy R1 penalty
    "dcgan-w32-trans": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999, "conv_width": 32,
                        "augment": "translation"},
    "dcgan-w32-r1": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999, "conv_width": 32,
                     "r1_gamma": 1.0, "r1_every": 16},
    "dcgan-w48-r1": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999, "conv_width": 48,
                     "r1_gamma": 1.0, "r1_every": 16},
    # the width-48 pair: a weaker penalty (D sharper), or batches of 64 (more images/s, fewer steps)
    "w48-r1-0.1": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999, "conv_width": 48,
                   "r1_gamma": 0.1, "r1_every": 16},
    "w48-r1-b64": {"g_net": "conv", "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999, "conv_width": 48,
                   "r1_gamma": 1.0, "r1_every": 16, "batch_size": 64},
    # G with a 3x3 convolution at 7x7 (--g-convs 1), against the conv D or against the MLP D and the conv D side
    # by side (--d-net mlp+conv: the MLP half keeps dropout 0.3, the conv half has none)
    "w48-gconv-r1": {"g_net": "conv", "g_convs": 1, "d_net": "conv", "dropout": 0.0, "ema_decay": 0.999,
                     "conv_width": 48, "r1_gamma": 1.0, "r1_every": 16},
    "w48-gconv-pair-r1": PAIR,
    # the pair at a faster pace: both learning rates doubled (--recipe best), or D's alone (TTUR)
    "pair-lr4": {**PAIR, "lr": 4e-4},
    "pair-lrd4": {**PAIR, "lr_d": 4e-4},
    # faster still, or the doubled rate for as long as a bare default run takes end to end (52 epochs)
    "pair-lr6": {**PAIR, "lr": 6e-4},
    "pair-lr4-e52": {**PAIR, "lr": 4e-4},
    "pair-lr4-ema9995": {**PAIR, "lr": 4e-4, "ema_decay": 0.9995},
    # G draws the image with a 3x3 convolution at full size, from 16 channels (--g-refine 16)
    "pair-lr4-refine16": {**PAIR, "lr": 4e-4, "g_refine": 16},
    # the classic MLP G (its shapes) against a convolutional D (it sees texture), held steady by a lazy R1 penalty
    "mlpg-convd-r1": {"d_net": "conv", "conv_width": 32, "dropout": 0.0, "ema_decay": 0.999, "r1_gamma": 1.0,
                      "r1_every": 16},
}
