"""`python -m vanilla_gan …` is the same as `vanilla-gan …` (and what torchrun calls)."""

import sys

from vanilla_gan.cli import main

sys.exit(main())
