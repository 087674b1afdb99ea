"""Build the double-click app with PyInstaller (onedir) and optionally smoke-test it.

    python packaging/build.py                 # dist/cartoon-cam/  (CPU build, ONNX Runtime only)
    python packaging/build.py --smoke         # … then run the frozen --self-test and a window screenshot
    python packaging/build.py --tarball       # Linux: dist/cartoon-cam-<ver>-linux-x86_64.tar.gz (+ install.sh)
    python packaging/build.py --appdir        # Linux: dist/cartoon-cam.AppDir for appimagetool
    python packaging/build.py --variant gpu   # with onnxruntime-gpu installed instead of onnxruntime
    python packaging/build.py --with-torch    # also bundle PyTorch (only for .safetensors styles)

Needs the dev extra (PyInstaller). Prints the bundle size and, with --smoke, the start-up times.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
BUILD = ROOT / "build"
NAME = "cartoon-cam"


def set_dirs(dist: Path | None, work: Path | None) -> None:
    global DIST, BUILD
    DIST = Path(dist).resolve() if dist else DIST
    BUILD = Path(work).resolve() if work else BUILD


def version() -> str:
    sys.path.insert(0, str(ROOT))
    from cartoon_cam import __version__

    return __version__


def dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink())


def windows_version_file(ver: str) -> Path:
    nums = [int(x) for x in (ver.split(".") + ["0", "0", "0"])[:4]]
    text = f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={tuple(nums)}, prodvers={tuple(nums)}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[StringFileInfo([StringTable('040904B0', [
      StringStruct('CompanyName', 'cartoon_cam'), StringStruct('FileDescription', 'cartoon_cam'),
      StringStruct('FileVersion', '{ver}'), StringStruct('InternalName', '{NAME}'),
      StringStruct('OriginalFilename', '{NAME}.exe'), StringStruct('ProductName', 'cartoon_cam'),
      StringStruct('ProductVersion', '{ver}')])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])]
)
"""
    BUILD.mkdir(parents=True, exist_ok=True)
    p = BUILD / "version_info.txt"
    p.write_text(text, encoding="utf-8")
    return p


def check_variant(variant: str) -> None:
    import onnxruntime as ort

    provs = ort.get_available_providers()
    if variant == "gpu" and "CUDAExecutionProvider" not in provs:
        sys.exit("the gpu variant needs onnxruntime-gpu in this environment:\n"
                 "  pip uninstall -y onnxruntime && pip install -e '.[gpu]'")
    if variant == "cpu" and "CUDAExecutionProvider" in provs:
        sys.exit("onnxruntime-gpu is installed: build it as the GPU variant (--variant gpu), or "
                 "install the CPU runtime for the CPU build:\n"
                 "  pip uninstall -y onnxruntime-gpu && pip install onnxruntime")
    print(f"onnxruntime {ort.__version__}: {', '.join(provs)}")


def bundle_name(variant: str) -> str:
    """dist/ folder of a variant: ``cartoon-cam`` (CPU) or ``cartoon-cam-gpu``."""
    return NAME if variant == "cpu" else f"{NAME}-{variant}"


def build(variant: str, with_torch: bool) -> Path:
    env = dict(os.environ, CC_VARIANT=variant, CC_WITH_TORCH="1" if with_torch else "0")
    if sys.platform == "win32":
        env["CC_VERSION_FILE"] = str(windows_version_file(version()))
    cmd = [sys.executable, "-m", "PyInstaller", str(ROOT / "packaging" / "cartoon_cam.spec"), "--noconfirm",
           "--clean", "--log-level", "WARN", "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller")]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    out = DIST / bundle_name(variant)
    print(f"built {out} in {time.perf_counter() - t0:.0f} s; size {dir_size(out) / 1e6:.0f} MB")
    return out


def executable(bundle: Path) -> Path:
    return bundle / (NAME + (".exe" if sys.platform == "win32" else ""))


def smoke(bundle: Path) -> None:
    """Run the frozen --self-test and a window screenshot (offscreen); print timings."""
    exe = executable(bundle)
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    env.pop("PYTHONPATH", None)
    t0 = time.perf_counter()
    r = subprocess.run([str(exe), "--self-test"], env=env, capture_output=True, text=True, timeout=300)
    print(r.stdout + r.stderr)
    if r.returncode != 0:
        sys.exit(f"frozen --self-test failed (exit {r.returncode})")
    print(f"frozen --self-test: {time.perf_counter() - t0:.1f} s")
    shot = BUILD / "frozen_screenshot.png"
    shot.unlink(missing_ok=True)
    t0 = time.perf_counter()
    env["CARTOON_CAM_LAUNCH_T0"] = repr(time.time())  # the app reports its first frame from here
    r = subprocess.run([str(exe), "--source", "demo", "--style", "classic", "--screenshot", str(shot),
                        "--quit-after", "3"], env=env, capture_output=True, text=True, timeout=300)
    print(r.stdout + r.stderr)
    if r.returncode != 0 or not shot.is_file() or shot.stat().st_size < 1000:
        sys.exit(f"frozen window run failed (exit {r.returncode}, screenshot {shot.exists()})")
    print(f"frozen window run + screenshot: {time.perf_counter() - t0:.1f} s → {shot}")
    print(f"bundle size: {dir_size(bundle) / 1e6:.0f} MB")


def tarball(bundle: Path) -> Path:
    """Linux: a tarball with the app, a .desktop entry, the icon and an install script."""
    stage = BUILD / "tarball" / f"{NAME}-{version()}"
    shutil.rmtree(stage.parent, ignore_errors=True)
    shutil.copytree(bundle, stage / NAME, symlinks=True)
    shutil.copy(ROOT / "packaging/linux/cartoon-cam.desktop", stage)
    shutil.copy(ROOT / "resources/icons/cartoon_cam.png", stage / "cartoon-cam.png")
    install = stage / "install.sh"
    install.write_text(
        "#!/bin/sh\n# Installs a menu entry for this unpacked folder (per user, no root needed).\nset -e\n"
        'here="$(cd "$(dirname "$0")" && pwd)"\n'
        'apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"\n'
        'icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"\n'
        'mkdir -p "$apps" "$icons"\ncp "$here/cartoon-cam.png" "$icons/"\n'
        'sed "s|^Exec=.*|Exec=$here/cartoon-cam/cartoon-cam|" "$here/cartoon-cam.desktop" > "$apps/cartoon-cam.desktop"\n'
        'echo "cartoon_cam added to your applications menu"\n')
    install.chmod(0o755)
    out = DIST / f"{bundle.name}-{version()}-linux-{platform.machine()}.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        tf.add(stage, arcname=stage.name)
    print(f"tarball {out} ({out.stat().st_size / 1e6:.0f} MB)")
    return out


def appdir(bundle: Path) -> Path:
    """Linux: an AppDir; turn it into an AppImage with `appimagetool dist/cartoon-cam.AppDir`."""
    d = DIST / f"{NAME}.AppDir"
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(bundle, d / "usr" / "bin", symlinks=True)
    shutil.copy(ROOT / "packaging/linux/cartoon-cam.desktop", d)
    shutil.copy(ROOT / "resources/icons/cartoon_cam.png", d / "cartoon-cam.png")
    apprun = d / "AppRun"
    apprun.write_text('#!/bin/sh\nhere="$(dirname "$(readlink -f "$0")")"\nexec "$here/usr/bin/cartoon-cam" "$@"\n')
    apprun.chmod(0o755)
    print(f"AppDir {d} — run: appimagetool {d}")
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--with-torch", action="store_true", help="bundle PyTorch too")
    ap.add_argument("--smoke", action="store_true", help="run the frozen --self-test and a screenshot")
    ap.add_argument("--tarball", action="store_true", help="Linux tarball with .desktop entry")
    ap.add_argument("--appdir", action="store_true", help="Linux AppDir for appimagetool")
    ap.add_argument("--skip-build", action="store_true", help="reuse dist/cartoon-cam")
    ap.add_argument("--dist", type=Path, help="output folder (default: dist/)")
    ap.add_argument("--work", type=Path, help="PyInstaller work folder (default: build/)")
    args = ap.parse_args()
    set_dirs(args.dist, args.work)
    check_variant(args.variant)
    bundle = DIST / bundle_name(args.variant) if args.skip_build else build(args.variant, args.with_torch)
    if args.smoke:
        smoke(bundle)
    if args.tarball:
        tarball(bundle)
    if args.appdir:
        appdir(bundle)


if __name__ == "__main__":
    main()
