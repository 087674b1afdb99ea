"""PyTorch, onnx and safetensors are the optional ``torch`` extra: without them the app runs every
built-in style and any ONNX style, and a torch-only feature says which extra it needs (one line,
exit 2, no traceback). The real commands run in a subprocess whose ``sitecustomize`` makes those
packages unimportable; ONNX files are read by :mod:`cartoon_cam.inference.onnx_proto`, checked here
against the ``onnx`` package itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cartoon_cam.inference.catalog import StyleCatalog, unavailable_reason
from cartoon_cam.inference.onnx_proto import ProtoError, read_model, set_metadata
from cartoon_cam.inference.style import (
    META_KEY,
    StyleManifest,
    onnx_sha256,
    read_style,
    tensors_sha256,
    write_onnx_style,
    write_torch_style,
)

REPO = Path(__file__).resolve().parents[1]
BUILTIN = REPO / "resources" / "styles"
OPTIONAL = ("torch", "onnx", "safetensors")
EXTRA = "pip install 'cartoon-cam[torch]'"

# Installed first by site.py: every import of the optional packages fails as if they were absent.
BLOCKER = f"""
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {OPTIONAL!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.fixture
def no_torch_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a subprocess without torch, onnx and safetensors (sandboxed folders:
    the test's own environment, which conftest points away from the user's)."""
    site = tmp_path / "no_torch_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _cli(env: dict[str, str], *args: str, module: str = "cartoon_cam") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def _one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ": error: " in ln]
    assert len(errors) == 1, r.stderr
    for n in needles:
        assert n in errors[0], errors[0]


def test_the_blocker_really_blocks(no_torch_env: dict[str, str]) -> None:
    code = ("import importlib\nfor m in ('torch', 'torch.nn', 'onnx', 'safetensors.numpy'):\n"
            "    try:\n        importlib.import_module(m)\n    except ModuleNotFoundError as e:\n"
            "        print('blocked', e.name)\nimport onnxruntime\nprint('onnxruntime ok')")
    r = subprocess.run([sys.executable, "-c", code], env=no_torch_env, capture_output=True, text=True, timeout=120)
    # a submodule fails on its package, as when the package is not installed
    assert r.stdout.split("\n")[:5] == ["blocked torch", "blocked torch", "blocked onnx", "blocked safetensors",
                                        "onnxruntime ok"], r.stderr


def test_the_app_modules_do_not_import_torch() -> None:
    """Importing the window, the CLI and every command (and listing / loading a built-in style)
    leaves torch, onnx and safetensors unimported, even where they are installed."""
    code = (
        "import sys\n"
        "import cartoon_cam.app, cartoon_cam.cli, cartoon_cam.media.convert, cartoon_cam.selftest\n"
        "import cartoon_cam.ui.main_window, cartoon_cam.inference.backends, cartoon_cam.inference.registry\n"
        "import cartoon_cam.inference.importers, cartoon_cam.inference.export, cartoon_cam.inference.flops\n"
        "from cartoon_cam import commands\n"
        "mods = commands.discover()\n"
        "cartoon_cam.cli.build_parser()\n"
        "from cartoon_cam.inference.catalog import StyleCatalog\n"
        "c = StyleCatalog(); c.entries(); c.default_style_id(gpu=False); c.get('hayao_lite')\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {OPTIONAL!r}))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout


def test_styles_list_convert_and_self_test_without_torch(no_torch_env: dict[str, str], tmp_path: Path) -> None:
    r = _cli(no_torch_env, "styles", "list", "--json")
    assert r.returncode == 0, r.stderr
    ids = [e["id"] for e in json.loads(r.stdout)]
    assert ids == sorted(p.stem for p in BUILTIN.iterdir() if p.suffix in (".onnx", ".json"))
    assert "classic" in ids and "hayao_lite" in ids

    out = tmp_path / "cartoon.png"
    r = _cli(no_torch_env, "convert", str(REPO / "resources" / "demo" / "astronaut.jpg"), "-o", str(out),
             "--style", "hayao_lite")
    assert r.returncode == 0, r.stderr
    import cv2

    img = cv2.imread(str(out))
    src = cv2.imread(str(REPO / "resources" / "demo" / "astronaut.jpg"))
    assert img is not None and img.shape == src.shape
    assert np.abs(img.astype(int) - src.astype(int)).mean() > 3  # stylised, not a copy

    r = _cli(no_torch_env, "--self-test")
    assert r.returncode == 0, r.stderr
    assert "self-test passed" in r.stdout and "torch not installed" in r.stdout and EXTRA in r.stdout


def test_bench_without_torch(no_torch_env: dict[str, str]) -> None:
    r = _cli(no_torch_env, "bench", "--style", "hayao_lite", "--size", "256", "--seconds", "0.2",
             "--min-frames", "1", "--input", "320x180", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "torch not installed" in r.stdout
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith("hayao_lite"))
    assert "onnxruntime" in row and "256x144" in row
    import importlib.util

    if importlib.util.find_spec("openvino") is not None:  # FLOPs counted on OpenVINO's graph, no onnx
        assert float(row.split()[5]) > 0
    else:
        assert "cartoon-cam[onnx]" in r.stdout  # GFLOP not counted: the note says why


def test_torch_model_files_name_the_extra(no_torch_env: dict[str, str], tmp_path: Path) -> None:
    pt = tmp_path / "face_paint.pt"
    pt.write_bytes(b"PK\x03\x04 not read: torch is missing")  # never opened without torch
    npz = tmp_path / "weights.npz"
    np.savez(npz, w=np.zeros(3, np.float32))
    photo = str(REPO / "resources" / "demo" / "astronaut.jpg")
    _one_line_error(_cli(no_torch_env, "styles", "import", str(pt)), "face_paint.pt", "needs PyTorch", EXTRA)
    _one_line_error(_cli(no_torch_env, "styles", "import", str(npz)), "weights.npz", "needs PyTorch", EXTRA)
    _one_line_error(_cli(no_torch_env, "convert", photo, "-o", str(tmp_path / "o.png"), "--style", str(pt)),
                    "needs PyTorch", EXTRA)
    assert not (tmp_path / "o.png").exists()
    r = _cli(no_torch_env, "train", "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "run"),
             module="training.cli")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "training needs PyTorch" in r.stderr and EXTRA in r.stderr


def _torch_style(folder: Path, style_id: str = "my_lite") -> Path:
    m = StyleManifest(id=style_id, name="My lite", arch="lite", tier="imported")
    return write_torch_style(folder / f"{style_id}.safetensors", {"w": np.ones((2, 2), np.float32)}, m)


def test_a_torch_style_in_the_user_folder_is_skipped_with_the_reason(no_torch_env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    user = Path(os.environ["CARTOON_CAM_DATA_DIR"]) / "styles"
    user.mkdir(parents=True, exist_ok=True)
    path = _torch_style(user)
    r = _cli(no_torch_env, "styles", "list")
    assert r.returncode == 0, r.stderr
    assert "hayao_lite" in r.stdout and "my_lite" not in r.stdout
    assert "my_lite.safetensors" in r.stderr and "needs PyTorch" in r.stderr and EXTRA in r.stderr
    _one_line_error(_cli(no_torch_env, "convert", str(REPO / "resources" / "demo" / "astronaut.jpg"),
                         "-o", str(tmp_path / "o.png"), "--style", "my_lite"),
                    "'my_lite'", "lite architecture", "needs PyTorch", EXTRA)
    _one_line_error(_cli(no_torch_env, "convert", str(REPO / "resources" / "demo" / "astronaut.jpg"),
                         "-o", str(tmp_path / "o.png"), "--style", str(path)), "needs PyTorch", EXTRA)
    if sys.platform.startswith("linux"):  # the window checks --style before it needs a display
        windowless = {k: v for k, v in no_torch_env.items() if k != "QT_QPA_PLATFORM"}
        _one_line_error(_cli(windowless, "--style", "my_lite"), "'my_lite'", "needs PyTorch", EXTRA)
        _one_line_error(_cli(windowless, "--style", str(path)), "my_lite.safetensors", "needs PyTorch", EXTRA)
    r = _cli(no_torch_env, "styles", "remove", "my_lite")  # still removable
    assert r.returncode == 0, r.stderr
    assert not path.exists()


def test_catalog_without_torch_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cartoon_cam.errors import MissingExtraError
    from cartoon_cam.inference import catalog, style

    user = tmp_path / "user"
    user.mkdir()
    _torch_style(user)
    cat = StyleCatalog(BUILTIN, user)
    assert "my_lite" in cat.ids()  # torch installed here
    monkeypatch.setattr(catalog, "torch_installed", lambda: False)
    monkeypatch.setattr(style, "torch_installed", lambda: False)
    assert "my_lite" not in cat.ids() and "hayao_lite" in cat.ids()
    assert "needs PyTorch" in unavailable_reason(StyleManifest(id="x", name="x", arch="animeganv2"))
    assert unavailable_reason(StyleManifest(id="x", name="x", arch="onnx")) == ""
    with pytest.raises(MissingExtraError, match="needs PyTorch"):
        cat.get("my_lite")
    with pytest.raises(MissingExtraError, match=r"cartoon-cam\[torch\]"):
        read_style(user / "my_lite.safetensors")
    assert read_style(BUILTIN / "hayao_lite.onnx").onnx_bytes is not None


# --------------------------------------------------------------------------- the ONNX reader


def _reference_sha256(model: object) -> str:
    """The checksum as computed before the protobuf reader: with onnx.numpy_helper."""
    from onnx import numpy_helper

    return tensors_sha256({t.name: numpy_helper.to_array(t) for t in model.graph.initializer})  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(p.name for p in BUILTIN.glob("*.onnx")))
def test_builtin_onnx_styles_read_as_onnx_reads_them(name: str) -> None:
    onnx = pytest.importorskip("onnx")
    data = (BUILTIN / name).read_bytes()
    model = onnx.load_from_string(data)
    info = read_model(data)
    assert info.metadata == {p.key: p.value for p in model.metadata_props}
    assert info.producer_name == model.producer_name and info.graph_name == model.graph.name
    assert onnx_sha256(data) == _reference_sha256(model) == onnx_sha256(model)
    assert json.loads(info.metadata[META_KEY])["sha256"] == onnx_sha256(data)


def test_every_tensor_storage_decodes_like_numpy_helper() -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    tensors = [
        numpy_helper.from_array(rng.standard_normal((2, 3)).astype(np.float32), "raw_f32"),
        numpy_helper.from_array(rng.standard_normal((4,)).astype(np.float16), "raw_f16"),
        numpy_helper.from_array(np.array(7, np.int64), "raw_scalar"),
        helper.make_tensor("f32", TensorProto.FLOAT, [2, 2], [1.5, -2.0, 3.25, 0.0]),
        helper.make_tensor("f64", TensorProto.DOUBLE, [3], [1e-300, -2.5, 7.0]),
        helper.make_tensor("i64", TensorProto.INT64, [3], [-(2 ** 40), 0, 5]),
        helper.make_tensor("i32", TensorProto.INT32, [2], [-7, 2 ** 30]),
        helper.make_tensor("i8", TensorProto.INT8, [3], [-128, 0, 127]),
        helper.make_tensor("u8", TensorProto.UINT8, [2], [0, 255]),
        helper.make_tensor("b", TensorProto.BOOL, [3], [True, False, True]),
        helper.make_tensor("u64", TensorProto.UINT64, [2], [0, 2 ** 63 + 5]),
        helper.make_tensor("f16", TensorProto.FLOAT16, [3], np.array([1.0, -0.5, 65504], np.float16)),
    ]
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], tensors)
    model = helper.make_model(graph)
    got = read_model(model.SerializeToString()).initializer_arrays()
    assert list(got) == [t.name for t in tensors]
    for t in tensors:
        want = numpy_helper.to_array(t)
        assert got[t.name].dtype == want.dtype and got[t.name].shape == want.shape, t.name
        np.testing.assert_array_equal(got[t.name], want, err_msg=t.name)
    assert onnx_sha256(model) == _reference_sha256(model)
    assert onnx.load_from_string(model.SerializeToString()) is not None


def test_set_metadata_replaces_one_entry_and_keeps_the_rest() -> None:
    onnx = pytest.importorskip("onnx")
    data = (BUILTIN / "hayao_lite.onnx").read_bytes()
    model = onnx.load_from_string(data)
    model.metadata_props.add(key="color_order", value="BGR")
    model.metadata_props.add(key=META_KEY, value="old duplicate")
    out = set_metadata(model.SerializeToString(), META_KEY, '{"new": 1}')
    back = onnx.load_from_string(out)
    onnx.checker.check_model(back)
    props = [(p.key, p.value) for p in back.metadata_props]
    others = [(p.key, p.value) for p in model.metadata_props if p.key != META_KEY]
    assert props == [*others, (META_KEY, '{"new": 1}')]
    assert back.graph == model.graph and back.opset_import == model.opset_import
    assert back.producer_name == model.producer_name and back.ir_version == model.ir_version


def test_write_onnx_style_accepts_bytes_and_leaves_a_model_proto_alone(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    data = (BUILTIN / "hosoda_lite.onnx").read_bytes()
    model = onnx.load_from_string(data)
    before = model.SerializeToString()
    sf = read_style(BUILTIN / "hosoda_lite.onnx")
    m = StyleManifest(**{**json.loads(sf.manifest.to_json()), "id": "copy", "sha256": ""})
    a = write_onnx_style(tmp_path / "a.onnx", model, m)
    b = write_onnx_style(tmp_path / "b.onnx", data, StyleManifest.from_json(m.to_json()))
    assert model.SerializeToString() == before
    assert a.read_bytes() == b.read_bytes()
    again = read_style(a)  # verifies the checksum
    assert again.id == "copy" and again.manifest.sha256 == sf.manifest.sha256


def test_a_broken_onnx_file_is_a_style_error(tmp_path: Path) -> None:
    from cartoon_cam.errors import StyleError

    for i, junk in enumerate((b"\xff\xff\xff", b"\x0a\x50abc", b"plain text, not a model")):
        p = tmp_path / f"junk{i}.onnx"
        p.write_bytes(junk)
        with pytest.raises(StyleError, match="not a valid ONNX model"):
            read_style(p)
    with pytest.raises(ProtoError):
        read_model(b"\x08")  # a tag without its value


def test_the_self_test_model_is_the_graph_it_describes() -> None:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from cartoon_cam.selftest import SELF_TEST_MODEL

    f32, u8 = TensorProto.FLOAT, TensorProto.UINT8
    graph = helper.make_graph(
        [helper.make_node("Cast", ["image"], ["xf"], to=f32),
         helper.make_node("Sub", ["c255", "xf"], ["yf"]),
         helper.make_node("Cast", ["yf"], ["cartoon"], to=u8)],
        "self_test",
        [helper.make_tensor_value_info("image", u8, [1, None, None, 3])],
        [helper.make_tensor_value_info("cartoon", u8, [1, None, None, 3])],
        [helper.make_tensor("c255", f32, [], [255.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    assert model.SerializeToString() == SELF_TEST_MODEL
