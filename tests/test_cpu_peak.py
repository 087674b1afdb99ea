"""CPU peak arithmetic: vector width and cores from /proc/cpuinfo text, the formula, the sgemm probe."""

from __future__ import annotations

from cartoon_cam.inference.cpu import cpu_info, measured_peak_gflops, parse_cpu

ZEN4 = """vendor_id\t: AuthenticAMD
cpu family\t: 25
model name\t: AMD EPYC 9654
cpu MHz\t\t: 2596.150
flags\t\t: fpu sse sse2 avx fma avx2 avx512f avx512bw avx512_bf16
"""
INTEL = ZEN4.replace("AuthenticAMD", "GenuineIntel").replace("cpu family\t: 25", "cpu family\t: 6") \
    .replace("AMD EPYC 9654", "Intel Xeon Gold 6338")
HASWELL = "vendor_id\t: GenuineIntel\ncpu MHz\t\t: 3000.0\nflags\t\t: sse sse2 avx fma avx2\n"


def test_vector_width_per_isa() -> None:
    z = parse_cpu(ZEN4, "x86_64", 2, 2)
    assert (z.isa, z.lanes, z.flop_per_cycle) == ("avx512", 8, 32)  # Zen 4 runs AVX-512 on 256-bit units
    i = parse_cpu(INTEL, "x86_64", 4, 4)
    assert (i.isa, i.lanes, i.flop_per_cycle) == ("avx512", 16, 64)
    h = parse_cpu(HASWELL, "x86_64", 4, 2)
    assert (h.isa, h.lanes) == ("avx2", 8)
    assert parse_cpu("", "arm64", 8, 8).isa == "neon"
    assert parse_cpu("flags : sse2\n", "x86_64", 1, 1).isa == "sse"


def test_peak_is_cores_times_clock_times_flop_per_cycle() -> None:
    z = parse_cpu(ZEN4, "x86_64", 2, 2)
    assert abs(z.peak_gflops - 2 * 2.59615 * 32) < 1e-6
    faster = parse_cpu(ZEN4, "x86_64", 2, 2, max_khz=3_700_000)  # sysfs max beats the nominal clock
    assert abs(faster.ghz - 3.7) < 1e-9
    assert parse_cpu("flags : avx2 fma\n", "x86_64", 2, 2).peak_gflops is None  # no clock: unknown
    assert "FLOP/cycle" in z.describe()


def test_this_machine_and_the_sgemm_probe() -> None:
    info = cpu_info()
    assert 1 <= info.physical <= info.logical
    assert measured_peak_gflops(n=128, seconds=0.01) > 0


def test_live_inference_threads_leave_a_core_from_four_up() -> None:
    from cartoon_cam.core.threads import MAX_INFERENCE_THREADS, live_inference_threads

    assert [live_inference_threads(n) for n in (1, 2, 3, 4, 8, 16, 64)] == [1, 2, 3, 3, 7, 8, MAX_INFERENCE_THREADS]
    assert live_inference_threads() >= 1


def test_the_pipeline_hands_its_thread_count_to_the_backend(monkeypatch) -> None:  # noqa: ANN001
    import cartoon_cam.inference.backends as backends
    from cartoon_cam.core.pipeline import Pipeline
    from cartoon_cam.core.sources import DemoSource
    from cartoon_cam.core.threads import live_inference_threads

    seen: list[object] = []
    real = backends.create_backend

    def spy(*a, **k):  # noqa: ANN002, ANN003, ANN202
        seen.append(k.get("threads"))
        return real(*a, **k)

    monkeypatch.setattr(backends, "create_backend", spy)
    assert Pipeline(DemoSource(64, 36, 10), "classic").threads == live_inference_threads()
    p = Pipeline(DemoSource(64, 36, 10), "classic", threads=1)
    p.start()
    try:
        import time

        deadline = time.monotonic() + 60
        while p.latest_result() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        p.stop()
    assert seen and seen[0] == 1
