"""``cartoon-cam --self-test``: run the default style on a generated frame and check the result.

Works the same in the source tree, an installed package and the frozen app; prints versions and
the backend really used; returns 0 on success, 1 on failure (with the reason).
"""

from __future__ import annotations

import base64
import platform
import sys
import time

import numpy as np

from . import __version__, paths
from .errors import TORCH_EXTRA


def _versions() -> list[str]:
    out = [f"cartoon-cam {__version__}", f"Python {platform.python_version()} ({platform.system()} {platform.machine()})"]
    for mod in ("numpy", "cv2", "onnxruntime", "openvino", "av", "torch", "PySide6"):
        try:
            m = __import__(mod)
            out.append(f"{mod} {getattr(m, '__version__', '?')}")
        except ImportError:
            if getattr(sys, "frozen", False):
                out.append(f"{mod} not bundled")
            elif mod == "torch":
                out.append(f"torch not installed (optional: {TORCH_EXTRA})")
            else:
                out.append(f"{mod} not installed")
    try:
        from .inference.backends.onnx_backend import describe_providers

        out.append(f"onnxruntime providers: {describe_providers()}")
    except ImportError:
        pass
    return out


# A tiny uint8 graph ``cartoon = Cast<uint8>(255 - Cast<float>(image))``, NHWC, opset 17, IR 8
# (readable by every ONNX Runtime we support), serialized once so the self-test needs no ``onnx``
# package. tests/test_optional_torch.py rebuilds it with onnx.helper and compares the bytes.
SELF_TEST_MODEL = base64.b64decode(
    "CAg6qgEKHAoFaW1hZ2USAnhmIgRDYXN0KgkKAnRvGAGgAQIKEwoEYzI1NQoCeGYSAnlmIgNTdWIKHgoCeWYSB2NhcnRvb24i"
    "BENhc3QqCQoCdG8YAqABAhIJc2VsZl90ZXN0Kg4QASIEAAB/Q0IEYzI1NVobCgVpbWFnZRISChAIAhIMCgIIAQoACgAKAggD"
    "Yh0KB2NhcnRvb24SEgoQCAISDAoCCAEKAAoACgIIA0IECgAQEQ==")


def _onnxruntime_check(device: str = "auto") -> str:
    """Run :data:`SELF_TEST_MODEL` (``255 - x``) on the first ONNX Runtime provider for ``device``
    and check its output: proves the runtime and its provider libraries load and run (in the
    frozen app too). Returns the provider really used; raises on any failure."""
    import onnxruntime as ort

    from .inference.backends.onnx_backend import providers_for

    sess = ort.InferenceSession(SELF_TEST_MODEL, providers=providers_for(device))
    x = np.arange(2 * 5 * 3, dtype=np.uint8).reshape(1, 2, 5, 3)
    (y,) = sess.run(None, {"image": x})
    if not np.array_equal(y, 255 - x):
        raise RuntimeError("ONNX Runtime returned a wrong result for a 255 - x graph")
    return sess.get_providers()[0]


def _openvino_check() -> str:
    """Run the 255 - x graph in OpenVINO on the CPU (its ONNX reader, CPU plugin and threads)."""
    from .inference.backends.openvino_backend import OpenVinoBackend
    from .inference.style import StyleFile, StyleManifest

    m = StyleManifest(id="selftest", name="selftest", arch="onnx", size_multiple=1)
    with OpenVinoBackend(StyleFile(m, None, None, SELF_TEST_MODEL)) as b:
        x = np.arange(2 * 5 * 3, dtype=np.uint8).reshape(2, 5, 3)
        if not np.array_equal(b.process(x), 255 - x):
            raise RuntimeError("OpenVINO returned a wrong result for a 255 - x graph")
    return "ok"


def run_self_test(style: str | None = None, backend: str = "auto", device: str = "auto") -> int:
    from .inference.backends import create_backend
    from .inference.catalog import StyleCatalog, probe_frame

    for line in _versions():
        print(line)
    try:
        print(f"resources: {paths.resources_dir()}")
        print(f"onnxruntime check: 255 - x graph on {_onnxruntime_check(device)}: ok")
        from .inference.backends import openvino_installed

        if openvino_installed():  # installed (or bundled) but broken must fail here, not fall back
            print(f"openvino check: 255 - x graph on CPU: {_openvino_check()}")
        cat = StyleCatalog()
        print(f"styles: {', '.join(cat.ids())}")
        style_id = style or cat.default_style_id()
        t0 = time.perf_counter()
        b = create_backend(cat.resolve(style_id), backend=backend, device=device)
        t1 = time.perf_counter()
        img = probe_frame(360, 640)
        out = b.process(img)
        t2 = time.perf_counter()
        b.close()
    except Exception as e:  # report anything: this is the diagnostic of last resort
        print(f"SELF-TEST FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    problems = []
    if out.shape != img.shape or out.dtype != np.uint8:
        problems.append(f"output {out.shape} {out.dtype} for input {img.shape}")
    elif out.std() < 2.0:
        problems.append("output is (almost) constant")
    elif np.array_equal(out, img):
        problems.append("output equals input")
    print(f"style {style_id!r} on {b.describe()}: load {1000 * (t1 - t0):.0f} ms, "
          f"first frame {1000 * (t2 - t1):.0f} ms")
    if problems:
        print(f"SELF-TEST FAILED: {'; '.join(problems)}", file=sys.stderr)
        return 1
    print("self-test passed")
    return 0
