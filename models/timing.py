"""Measured latency and counted FLOPs of model stages.

CPU: batch 1 (and more where asked), median of repeated runs after warm-up, with the thread count
recorded. GPU (where present): CUDA-event timing after synchronisation for batch sizes 1..64.
FLOPs come from torch's FlopCounterMode and count a multiply-add as 2.
"""
from __future__ import annotations

import platform
import statistics
import subprocess
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or platform's answer)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What the timings were taken on."""
    info = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "torch": str(torch.__version__),
            "python": platform.python_version()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def git_commit() -> str:
    """HEAD's commit, with '-dirty' when the work tree has changes; 'unknown' outside git."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def time_cpu_ms(fn: Callable[[], object], repeats: int = 20, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def time_cuda_ms(fn: Callable[[], object], repeats: int = 20, warmup: int = 5) -> float:
    """Median GPU time of ``fn()`` in milliseconds, synchronised with CUDA events."""
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
    return statistics.median(times)


def count_flops(module: torch.nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward pass on ``x`` (batch 1 expected), multiply-add counted as 2."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return int(counter.get_total_flops())


def count_params(*modules: torch.nn.Module) -> int:
    return int(sum(p.numel() for m in modules for p in m.parameters()))
