"""The process a run lives in: MKL's reproducible mode, seeds, the device, every RNG's state, and a stop flag
set by signals.

    reproducible_mkl()                   # at the package's import, before MKL's first matrix product
    mkl_cbwr()                           # "AUTO,STRICT": the mode MKL runs in (config.json records it)
    set_seed(seed)                       # Python, NumPy and torch, before data and models are built
    device = resolve_device("auto")      # cuda when present, else cpu
    state = rng_state(); set_rng_state(state)   # as plain data, for checkpoints
    with StopFlag() as stop:             # SIGINT/SIGTERM/SIGHUP set stop.requested; a second: KeyboardInterrupt
        while not stop.requested: ...
    with steady_streams(): ...           # stdout/stderr closed, or a pipe whose reader left: writes are dropped
    with stop_signals_interrupt(): ...   # SIGTERM/SIGHUP raise KeyboardInterrupt, as Ctrl-C does
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from vanilla_gan.errors import UsageError
from vanilla_gan.training import distributed

# MKL's Conditional Numerical Reproducibility. Unset, MKL picks its code path at run time and may sum in an
# order that depends on the inputs' memory alignment: two identical training processes can then end a rounding
# error apart (docs/design.md, Reproducibility). AUTO,STRICT keeps the path this CPU is given but makes the
# results independent of alignment (and of the run); COMPATIBLE, the same numbers on every x86 CPU, trains
# several times slower. A user's own MKL_CBWR wins; MKL_CBWR= (empty) is MKL's default.
MKL_CBWR = "AUTO,STRICT"
_CBWR_BRANCHES = {1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3", 7: "SSE4_1", 8: "SSE4_2", 9: "AVX",
                  10: "AVX2", 11: "AVX512_MIC", 12: "AVX512", 13: "AVX512_MIC_E1", 14: "AVX512_E1"}
_CBWR_STRICT = 0x10000


def reproducible_mkl() -> None:
    """Put MKL_CBWR=AUTO,STRICT in the environment unless it is set. MKL reads it at its first call (the first
    matrix product), not at `import torch`: the package calls this when it is imported. Child processes (sweep
    workers, torchrun's ranks) inherit it."""
    os.environ.setdefault("MKL_CBWR", MKL_CBWR)


def mkl_cbwr() -> str | None:
    """The reproducibility mode MKL runs in, as MKL_CBWR spells it ("AUTO,STRICT"; "OFF" is MKL's default),
    read from MKL itself; None where PyTorch has no MKL to ask (another BLAS, another platform)."""
    try:
        library = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        get = library.mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return None
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    mode = get(-1)  # MKL_CBWR_ALL: the branch and the STRICT bit
    branch = _CBWR_BRANCHES.get(mode & 0xFFFF, str(mode & 0xFFFF))
    return branch + (",STRICT" if mode & _CBWR_STRICT else "")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) in one place, before data and models are built."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def draw_seed() -> int:
    """A fresh seed from the operating system's entropy, for runs given none."""
    return random.SystemRandom().randrange(2**31)


def resolve_device(name: str) -> torch.device:
    """"auto" (cuda if present, else cpu), "cpu" or "cuda"; under torchrun, this rank's GPU."""
    if name == "auto":
        return resolve_device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    if name == "cuda" and distributed.world_size() > 1:
        return torch.device("cuda", torch.cuda.current_device())  # this rank's GPU (distributed.setup)
    return torch.device(name)


def bf16_warning(precision: str, device: torch.device, batch_size: int = 8) -> str | None:
    """A warning for --precision bf16 on a CPU where it does not pay, else None: a CPU that only emulates bf16 (no
    AVX512-BF16 or AMX-BF16; on one such machine, AVX2, bf16 trained at 119 images/s against 2,437 for fp32), or
    one that lists them but runs the model's layers slower in bf16 than in fp32 at this batch (measured now,
    `bf16_seconds`; an Intel Xeon listing avx512_bf16 trained 0.67x as fast at batch 8)."""
    if precision != "bf16" or device.type != "cpu":
        return None
    capability = torch.backends.cpu.get_cpu_capability()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = None  # not Linux: the measurement alone decides
    if flags is not None and "avx512_bf16" not in flags and "amx_bf16" not in flags:
        return (f"--precision bf16 on a CPU without native bf16 (capability {capability}): it is emulated here, "
                f"many times slower than fp32; use --precision fp32")
    bf16, fp32 = bf16_seconds(batch_size)
    if bf16 > fp32:
        return (f"--precision bf16 measured slower than fp32 on this CPU (capability {capability}) at batch "
                f"{batch_size}: D's layers took {bf16 * 1e3:.2f} ms against {fp32 * 1e3:.2f} ms; use --precision fp32")
    return None


def bf16_seconds(batch_size: int, repeats: int = 10) -> tuple[float, float]:
    """Seconds of one forward and backward pass of D's two largest layers on 2 x batch_size rows, under bf16
    autocast and in fp32 (best of `repeats`, after a warm-up). About 0.1 s in all; no RNG state moves."""
    with torch.random.fork_rng(devices=[]):
        layers = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.LeakyReLU(0.2), torch.nn.Linear(1024, 512))
        x = torch.randn(2 * batch_size, 784)

    def once(bf16: bool) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = layers(x).float().square().mean()
        loss.backward()
        return time.perf_counter() - start

    once(True), once(False)  # warm-up
    return min(once(True) for _ in range(repeats)), min(once(False) for _ in range(repeats))


def rng_state() -> dict[str, Any]:
    """Every RNG state in use, as plain data that `torch.load(weights_only=True)` accepts."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class StopFlag:
    """A request to stop at the next safe point, set by SIGINT, SIGTERM or SIGHUP while the flag is entered.

    The first signal sets `requested` and says so on stderr; a second one raises KeyboardInterrupt at once.
    Within `abortable()` (a long evaluation) the first one also raises StopNow at once.
    Outside the main thread (where Python cannot take signals) entering it changes nothing.
    """

    def __init__(self) -> None:
        self.requested = self._abortable = False
        self._previous: dict[int, Any] = {}

    @contextlib.contextmanager
    def abortable(self) -> Iterator[None]:
        """Work that a stop request abandons at once (StopNow) instead of waiting for it to end."""
        self._abortable = True
        try:
            yield
        finally:
            self._abortable = False

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal went away
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.requested:  # a second Ctrl-C: stop now (the checkpoint on disk is still whole)
            raise KeyboardInterrupt
        self.requested = True
        tqdm.write("stopping after this step and saving a checkpoint (a second signal quits at once)",
                   file=sys.stderr)
        if self._abortable:
            raise StopNow


class StopNow(Exception):
    """A stop request that abandons the work under `StopFlag.abortable` (e.g. an epoch's evaluation)."""


class SteadyStream:
    """A text stream that never fails its writer: a stream that is closed (`2>&-`) or a pipe whose reader is
    gone (`| head -1`) drops what is written (its file descriptor then points at /dev/null, so the interpreter's
    last flush succeeds too); text its encoding cannot hold is written with backslash escapes."""

    def __init__(self, stream: Any, fd: int):
        self.stream, self.fd = stream, fd

    def write(self, text: str) -> int:
        if self.stream is not None:
            try:
                self.stream.write(text)
            except UnicodeEncodeError:
                encoding = getattr(self.stream, "encoding", None) or "ascii"
                self._call(self.stream.write, text.encode(encoding, "backslashreplace").decode(encoding))
            except (OSError, ValueError):  # a broken pipe, a closed file
                self._drop()
        return len(text)

    def flush(self) -> None:
        if self.stream is not None:
            self._call(self.stream.flush)

    def _call(self, method: Any, *args: Any) -> None:
        try:
            method(*args)
        except (OSError, ValueError):
            self._drop()

    def _drop(self) -> None:
        self.stream = None
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.fd)
            os.close(null)

    def isatty(self) -> bool:
        return self.stream is not None and bool(getattr(self.stream, "isatty", lambda: False)())

    def __getattr__(self, name: str) -> Any:  # encoding, errors, fileno, ... of the stream underneath
        if self.stream is None:
            raise AttributeError(name)
        return getattr(self.stream, name)


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt for the duration, as Ctrl-C does, so that a command stopped
    by them unwinds and removes its temporary files (a training's StopFlag takes them over while it trains)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def steady_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr as SteadyStreams for the duration, so that a run never depends on its streams;
    a closed standard file descriptor is first pointed at /dev/null (no file the run opens can take its number)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SteadyStream(sys.stdout, 1), SteadyStream(sys.stderr, 2)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
