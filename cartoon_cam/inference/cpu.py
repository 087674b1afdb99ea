"""What this CPU can compute: cores, vector width, fp32 peak (theoretical and measured).

``bench`` divides each style's achieved GFLOP/s by these peaks, so "how far from the limit" is a
number, not a feeling.

* **Theoretical fp32 peak** = physical cores x clock x FLOP per cycle per core, where FLOP per
  cycle = 2 (a fused multiply-add is two FLOPs) x fp32 lanes of the vector datapath x FMA pipes.
  Lanes: 16 for AVX-512 (8 on AMD Zen 4, which runs AVX-512 on 256-bit units), 8 for AVX2/FMA, 4 for
  SSE and Arm NEON. Pipes: 2 on every x86 core with FMA of the last decade (Haswell+, Zen 2+), which
  is what we assume; 2 for NEON (Apple and Neoverse cores have more: the figure is then a floor).
  Clock: the highest of /proc/cpuinfo's "cpu MHz" and the sysfs maximum frequency (on virtual
  machines only the nominal clock is visible, so turbo makes the real peak higher).
* **Measured peak** = the GFLOP/s of a large single-precision matrix multiply (numpy's BLAS) on the
  same cores: what a perfect convolution could reach. It is usually 80-100 % of the theoretical
  figure and is the fairer yardstick for a network.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class CpuInfo:
    """A CPU as far as peak arithmetic goes."""

    name: str
    logical: int  # logical CPUs this process may use
    physical: int  # physical cores among them (SMT siblings counted once)
    isa: str  # widest fp32 vector ISA: avx512, avx2, sse, neon or scalar
    lanes: int  # fp32 lanes per vector operation as executed
    fma_pipes: int
    ghz: float | None  # clock used for the theoretical peak (None: unknown)

    @property
    def flop_per_cycle(self) -> int:
        """fp32 FLOP per cycle per core: 2 x lanes x FMA pipes."""
        return 2 * self.lanes * self.fma_pipes

    @property
    def peak_gflops(self) -> float | None:
        """Theoretical fp32 GFLOP/s of the cores this process may use (None: clock unknown)."""
        return None if self.ghz is None else self.physical * self.ghz * self.flop_per_cycle

    def describe(self) -> str:
        peak = "clock unknown" if self.peak_gflops is None else (
            f"{self.physical} cores x {self.ghz:.2f} GHz x {self.flop_per_cycle} FLOP/cycle = "
            f"{self.peak_gflops:.0f} GFLOP/s fp32")
        return f"{self.name}: {self.logical} logical / {self.physical} physical, {self.isa} ({self.lanes} lanes), {peak}"


def _cpuinfo_text() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


def _field(text: str, key: str) -> str | None:
    for line in text.splitlines():
        if line.startswith(key):
            return line.split(":", 1)[1].strip() if ":" in line else None
    return None


def usable_cpus() -> list[int]:
    """Logical CPUs this process may run on (affinity, e.g. a container's limit)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def physical_cores(cpus: list[int] | None = None) -> int:
    """Physical cores among ``cpus`` (Linux: SMT siblings from sysfs; elsewhere logical / 2 when
    the OS reports hyper-threading, else the logical count)."""
    cpus = usable_cpus() if cpus is None else cpus
    seen: set[str] = set()
    for c in cpus:
        p = Path(f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list")
        try:
            seen.add(p.read_text().strip())
        except OSError:
            return max(1, len(cpus))
    return max(1, len(seen))


def parse_cpu(text: str, machine: str, logical: int, physical: int, max_khz: int | None = None) -> CpuInfo:
    """:class:`CpuInfo` from /proc/cpuinfo text (empty elsewhere) and the machine name."""
    flags = set((_field(text, "flags") or _field(text, "Features") or "").split())
    vendor = _field(text, "vendor_id") or ""
    family = _field(text, "cpu family")
    name = _field(text, "model name") or platform.processor() or machine
    if "avx512f" in flags:
        zen4 = vendor == "AuthenticAMD" and family == "25"
        isa, lanes = "avx512", (8 if zen4 else 16)
    elif "avx2" in flags and "fma" in flags:
        isa, lanes = "avx2", 8
    elif machine.lower() in ("arm64", "aarch64"):
        isa, lanes = "neon", 4
    elif "sse2" in flags or machine.lower() in ("x86_64", "amd64"):
        isa, lanes = "sse", 4
    else:
        isa, lanes = "scalar", 1
    mhz = [float(v) for v in [_field(text, "cpu MHz")] if v]
    if max_khz:
        mhz.append(max_khz / 1000.0)
    ghz = max(mhz) / 1000.0 if mhz else None
    pipes = 2 if isa != "scalar" else 1
    return CpuInfo(name, logical, physical, isa, lanes, pipes, ghz)


@cache
def cpu_info() -> CpuInfo:
    """This machine's :class:`CpuInfo` (cached)."""
    cpus = usable_cpus()
    max_khz = None
    with contextlib.suppress(OSError, ValueError):
        max_khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
    return parse_cpu(_cpuinfo_text(), platform.machine(), len(cpus), physical_cores(cpus), max_khz)


def measured_peak_gflops(n: int = 1536, seconds: float = 1.0) -> float:
    """Best GFLOP/s of an ``n`` x ``n`` float32 matrix multiply (numpy's BLAS, its own threads)."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    a @ b  # warm-up
    best = 0.0
    t_end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        a @ b
        dt = time.perf_counter() - t0
        best = max(best, 2.0 * n ** 3 / dt / 1e9)
        if time.perf_counter() > t_end:
            return best


__all__ = ["CpuInfo", "cpu_info", "measured_peak_gflops", "parse_cpu", "physical_cores", "usable_cpus"]
