"""What a Trainer's loop calls at its moments: the evaluation and the run folder's side of training.

    trainer = Trainer(..., run=RunDir("runs/a"), evaluate=Evaluator("digits"))   # Evaluation, RunWriter, EpochHooks
    trainer.callbacks.append(MyCallback())                                          # a Callback of your own

The loop calls each callback's methods, in order, on the process that writes (rank 0 under torchrun):
    on_start(trainer)                          before the first step of a session (a fresh run or a resumed one)
    on_epoch_end(trainer, record)              an epoch ended: its metrics record, which a callback may add to
    on_epoch_saved(trainer, record, state, best)   then its checkpoint dict (`best`: FID improved)
    on_stop(trainer, state)                    stopped mid-epoch (Ctrl-C): the checkpoint dict of the step reached
    on_length_set(trainer)                     --minutes set the run's length (config.epochs): it ran out, this
                                               epoch is the last; or a plan for --lr-cooldown
    on_close(trainer)                          the session ended
The Trainer itself writes and prints nothing: `Evaluation` measures, `RunWriter` writes the run folder,
`EpochHooks` calls the epoch hooks (hook(trainer, record)) and prints the epoch's line.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from vanilla_gan._version import __version__
from vanilla_gan.config import to_dict
from vanilla_gan.runs.rundir import RunDir
from vanilla_gan.runs.schema import epoch_metrics
from vanilla_gan.training.process import StopNow, mkl_cbwr
from vanilla_gan.training.progress import epoch_label, epoch_line


class Callback:
    """A base for callbacks: every moment does nothing unless overridden."""

    def on_start(self, trainer: Any) -> None: ...

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None: ...

    def on_epoch_saved(self, trainer: Any, record: dict[str, Any], state: dict[str, Any], best: bool) -> None: ...

    def on_stop(self, trainer: Any, state: dict[str, Any]) -> None: ...

    def on_length_set(self, trainer: Any) -> None: ...

    def on_close(self, trainer: Any) -> None: ...


class Evaluation(Callback):
    """The sampling generator's metrics from an `evaluate` callable (generator -> dict; evaluate.Evaluator), every
    --eval-every epochs and at the last one (with the two-sample test there), into the epoch's record."""

    def __init__(self, evaluate: Callable[..., dict[str, Any]], log: Callable[[str], None] | None = None):
        self.evaluate, self.log = evaluate, log

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        epoch, every, last = record["epoch"], trainer.config.eval_every, trainer.config.epochs
        if not every or not (epoch % every == 0 or epoch == last) or trainer.stop.requested:
            return  # not due; or stopping, which an evaluation does not keep waiting
        start = time.perf_counter()
        if self.log is not None:
            self.log(evaluation_notice(trainer, epoch == last))
        try:
            with trainer.stop.abortable(), trainer.threads.steady():
                record.update(self.measure(trainer, two_sample=epoch == last))
            record["eval_s"] = time.perf_counter() - start
        except StopNow:
            pass  # the epoch is saved without its metrics; `vanilla-gan evaluate RUN` measures them

    def measure(self, trainer: Any, two_sample: bool = False) -> dict[str, Any]:
        """The metrics as metrics.jsonl keeps them (schema.epoch_metrics); no RNG moves. With `two_sample`, an
        evaluate callable that takes a `two_sample` keyword is asked for the two-sample test too, and the digits
        it found easiest and hardest to spot go to the run folder (RunDir.write_two_sample)."""
        device = trainer.device
        # Forked RNGs: building the evaluator draws initial weights, and nothing here may move the training RNG.
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            generator: nn.Module = trainer.sampling_generator()
            ask = two_sample and _takes_keyword(self.evaluate, "two_sample")  # (generator) -> dict still works
            result = self.evaluate(generator, two_sample=True) if ask else self.evaluate(generator)
        pictures = result.pop("two_sample_pictures", None)
        if pictures is not None and trainer.run is not None:
            trainer.run.write_two_sample(pictures)
        return epoch_metrics(result)


def evaluation_notice(trainer: Any, two_sample: bool) -> str:
    """The line said when an evaluation starts: what it measures and how long it should take (the last one's
    time in this run, else a rough figure for 2 cores)."""
    took = [m["eval_s"] for m in trainer.metrics if isinstance(m.get("eval_s"), (int, float))]
    what = "FID, IS, precision/recall" + (" and the two-sample test" if two_sample else "")
    if took:
        guess = f"the last took {took[-1]:.0f} s" + ("; the two-sample test adds about 15 s on 2 idle cores, minutes "
                                                 "beside busy programs" if two_sample else "")
    else:
        guess = ("about 30 s on 2 idle cores, several minutes beside busy programs" if two_sample
                 else "about 15 s on 2 idle cores")
    return (f"evaluating {trainer.config.eval_samples:,} samples ({what}) on {trainer.threads.current} "
            f"thread(s): {guess}")


class RunWriter(Callback):
    """The run folder's side (rundir.RunDir does each write): config.json and the lock at the start; each epoch's
    grid, steps.csv rows, checkpoint (best.pt when FID improved, epoch_NNNN.pt every --checkpoint-every) and
    metrics line; last.pt when stopped; config.json again when a time budget fixes the epochs; the lock released
    at the end (when this session took it)."""

    def __init__(self, run: RunDir):
        self.run, self.owns_lock = run, False

    def on_start(self, trainer: Any) -> None:
        fresh = not (trainer.resumed or trainer.epoch > 0)
        self.owns_lock = self.run.start(config_json(trainer), trainer.metrics, trainer.epoch, fresh)

    def on_epoch_saved(self, trainer: Any, record: dict[str, Any], state: dict[str, Any], best: bool) -> None:
        epoch, every = record["epoch"], trainer.config.checkpoint_every
        with trainer.threads.steady():
            self.run.write_grid(epoch, trainer.generate_fixed())
        self.run.append_steps(epoch, trainer.step - trainer.steps_per_epoch + 1, trainer.epoch_stats.cpu().numpy())
        self.run.save_checkpoint(state, best=best, keep=bool(every) and epoch % every == 0)
        self.run.append_metrics(record)

    def on_stop(self, trainer: Any, state: dict[str, Any]) -> None:
        self.run.save_checkpoint(state)

    def on_length_set(self, trainer: Any) -> None:
        self.run.write_config(config_json(trainer))

    def on_close(self, trainer: Any) -> None:
        if self.owns_lock:
            self.run.unlock()
        self.owns_lock = False


class EpochHooks(Callback):
    """After an epoch is saved: each of `hooks` (a list, read at each epoch: hooks appended later are called),
    hook(trainer, record); then the epoch's line to `log` (e.g. print), when given."""

    def __init__(self, hooks: list[Callable[[Any, dict[str, Any]], None]], log: Callable[[str], None] | None):
        self.hooks, self.log = hooks, log

    def on_epoch_saved(self, trainer: Any, record: dict[str, Any], state: dict[str, Any], best: bool) -> None:
        for hook in self.hooks:
            hook(trainer, record)
        if self.log is not None:
            self.log(epoch_line(epoch_label(record["epoch"], trainer.config, trainer.elapsed), trainer.metrics,
                                trainer.best_fid))


def config_json(trainer: Any) -> dict[str, Any]:
    """What a Trainer's config.json holds (docs/design.md, Run folder)."""
    t = trainer
    return {"package_version": __version__, "model": to_dict(t.model_config), "train": to_dict(t.config),
            "num_images": t.num_images, "steps_per_epoch": t.steps_per_epoch, "device": str(t.device),
            "world_size": t.world, "data_sha256": t.data_sha256, "objective": t.objective.name,
            "mkl_cbwr": mkl_cbwr(),  # MKL's reproducibility mode (training/process.py)
            "threads": t.threads.record()}  # threads.py; each epoch's line in metrics.jsonl has its count


def _takes_keyword(function: Callable[..., Any], name: str) -> bool:
    """Whether `function` accepts the keyword argument `name` (a user's evaluate callable may not)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return name in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
