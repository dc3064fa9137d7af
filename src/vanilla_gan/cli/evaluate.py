"""`vanilla-gan evaluate`: score a run's generator (the two-sample test, FID, ...) and keep the result in the run.

    vanilla-gan evaluate runs/try --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from vanilla_gan.api.pretrained import pretrained
from vanilla_gan.cli.common import (
    own_generator,
    run_parents,
)
from vanilla_gan.config import (
    DEVICES,
    MAX_EVAL_SAMPLES,
    MAX_SEED,
    MAX_THREADS,
    check_whole,
)
from vanilla_gan.errors import UsageError
from vanilla_gan.evaluation import evaluator
from vanilla_gan.evaluation.classifier import rebuild_evaluator
from vanilla_gan.training.process import resolve_device


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", parents=run_parents(), help="score a generator (C2ST, FID...)",
                              description="Score N generated digits: the two-sample test (a small CNN trained "
                                          "to tell them from real digits; 0.5 = it cannot), and with the "
                                          "bundled digit classifier FID, KID, Inception Score, modes, "
                                          "precision/recall and the Parzen log-likelihood, each beside its "
                                          "real-data floor.")
    p.add_argument("checkpoint", type=Path, nargs="?", help="a checkpoint file or a run folder")
    p.add_argument("--pretrained", action="store_true", help="score the weights shipped with vanilla-gan instead")
    p.add_argument("-n", "--num", type=int, default=10_000,
                   help=f"generated digits to score (default: 10000, at most {MAX_EVAL_SAMPLES})")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--seed", type=int, default=0, help="seed for the noise z (default: 0)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="where to run (default: auto)")
    p.add_argument("--no-two-sample", dest="two_sample", action="store_false",
                   help="leave out the two-sample test (it trains a small classifier: about 15 s on 2 idle cores, "
                        "a minute or more beside other work)")
    p.add_argument("--threads", type=int,
                   help="CPU threads (default: all this process may use; beside busy programs fewer can be faster)")
    p.add_argument("--retrain-evaluator", action="store_true",
                   help="rebuild the evaluator's classifier from the embedded digits (about a minute)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.retrain_evaluator:
        path, accuracy, sha = rebuild_evaluator()
        print(f"evaluator retrained: held-out accuracy {accuracy:.2%}, written to {path} (SHA-256 {sha})")
        if args.checkpoint is None and not args.pretrained:
            return 0
    if (args.checkpoint is None) == (not args.pretrained):
        raise UsageError("evaluate needs a checkpoint or run folder, or --pretrained (one of them; or "
                         "--retrain-evaluator)")
    check_whole("--seed", args.seed, 0, MAX_SEED)
    if args.threads is not None:
        torch.set_num_threads(check_whole("--threads", args.threads, 1, MAX_THREADS))
    if not evaluator.MIN_SAMPLES <= args.num <= MAX_EVAL_SAMPLES:
        raise UsageError(f"-n must be in {evaluator.MIN_SAMPLES}..{MAX_EVAL_SAMPLES:,}, got {args.num:,}")
    if args.pretrained:
        result = pretrained(device=args.device).evaluate(args.num, seed=args.seed, two_sample=args.two_sample)
    else:
        result, kept = evaluator.evaluate_and_keep(args.checkpoint, num_samples=args.num, seed=args.seed,
                                                  device=resolve_device(args.device), two_sample=args.two_sample,
                                                  generator=own_generator(args))
        print(kept, file=sys.stderr)
    print(json.dumps(result) if args.json else evaluator.format_table(result))
    return 0
