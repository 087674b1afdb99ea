"""Style files: manifest validation, round trips, corruption, catalog import/remove/export."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shared_path

from cartoon_cam.errors import StyleError
from cartoon_cam.inference.backends import create_backend
from cartoon_cam.inference.catalog import StyleCatalog, load_style, probe_frame
from cartoon_cam.inference.export import export_onnx
from cartoon_cam.inference.importers import ImportOptions, import_model_file
from cartoon_cam.inference.registry import create_model
from cartoon_cam.inference.style import (
    StyleManifest,
    read_manifest,
    read_style,
    write_json_style,
    write_torch_style,
)


def lite_style(tmp_path: Path, style_id: str = "mylite", fp16: bool = False, **kw) -> Path:
    torch.manual_seed(0)
    net = create_model("lite")
    m = StyleManifest(id=style_id, name="My lite", arch="lite", size_multiple=8, recommended_size=256,
                      tier="lite", **kw)
    return write_torch_style(tmp_path / f"{style_id}.safetensors", net.state_dict(), m, fp16=fp16)


def test_manifest_validation() -> None:
    with pytest.raises(StyleError, match="id"):
        StyleManifest(id="Bad Id!", name="x", arch="lite")
    with pytest.raises(StyleError, match="layout"):
        StyleManifest(id="ok", name="x", arch="lite", layout="CHW")
    good = json.loads(StyleManifest(id="ok", name="x", arch="lite").to_json())
    with pytest.raises(StyleError, match="unknown keys"):
        StyleManifest.from_mapping({**good, "surprise": 1})
    with pytest.raises(StyleError, match="newer"):
        StyleManifest.from_mapping({**good, "schema": 99})
    with pytest.raises(StyleError, match="not a cartoon_cam style"):
        StyleManifest.from_mapping({k: v for k, v in good.items() if k != "format"})


def test_safetensors_round_trip_fp16_and_checksum(tmp_path: Path) -> None:
    p = lite_style(tmp_path, fp16=True)
    m = read_manifest(p)
    assert m.id == "mylite" and m.precision == "fp16" and len(m.sha256) == 64
    sf = read_style(p)
    assert all(v.dtype == np.float16 for v in sf.tensors.values())
    with create_backend(sf, backend="torch") as b:
        assert b.process(probe_frame()).shape == (96, 128, 3)


def test_corrupt_weights_are_detected(tmp_path: Path) -> None:
    p = lite_style(tmp_path)
    data = bytearray(p.read_bytes())
    data[-100] ^= 0xFF  # flip bits inside the last tensor
    p.write_bytes(bytes(data))
    with pytest.raises(StyleError, match="checksum"):
        read_style(p)
    p.write_bytes(bytes(data[:50]))
    with pytest.raises(StyleError, match="not a valid safetensors|corrupt"):
        read_style(p)


def test_plain_files_are_not_styles(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(os.urandom(300))
    with pytest.raises(StyleError):
        import_model_file(junk)
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(StyleError, match="not a model file"):
        import_model_file(txt)
    with pytest.raises(StyleError, match="not found"):
        import_model_file(tmp_path / "missing.pt")


class _Evil:
    def __reduce__(self):  # would create a file if unpickled
        return (Path.touch, (Path(os.environ["CARTOON_CAM_DATA_DIR"]) / "pwned",))


def test_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "evil.pt"
    torch.save({"block_a.0.1.weight": torch.zeros(1), "x": _Evil()}, p)
    with pytest.raises(StyleError, match="refusing"):
        import_model_file(p)
    assert not (Path(os.environ["CARTOON_CAM_DATA_DIR"]) / "pwned").exists()


def test_import_detects_arch_and_validates_before_writing(tmp_path: Path) -> None:
    cat = StyleCatalog(user_dir=tmp_path / "user")
    e = cat.import_file(shared_path("models", "animeganv2", "random_seed0.pt"), ImportOptions(id="v2"))
    assert e.manifest.arch == "animeganv2" and e.path.exists() and not e.builtin
    assert "v2" in cat.ids()
    # a state dict of an unknown architecture: clear error, nothing written
    torch.save({"foo.weight": torch.zeros(3)}, tmp_path / "unknown.pt")
    with pytest.raises(StyleError, match="unknown architecture"):
        cat.import_file(tmp_path / "unknown.pt")
    # right keys, wrong shapes: fails on load, nothing written
    bad = {k: torch.zeros(1) for k in create_model("lite").state_dict()}
    torch.save(bad, tmp_path / "badshape.pt")
    with pytest.raises(StyleError, match="do not fit"):
        cat.import_file(tmp_path / "badshape.pt")
    assert sorted(p.name for p in (tmp_path / "user").iterdir()) == ["v2.safetensors"]
    with pytest.raises(StyleError, match="already imported"):
        cat.import_file(shared_path("models", "animeganv2", "random_seed0.pt"), ImportOptions(id="v2"))
    with pytest.raises(StyleError, match="built-in"):
        cat.import_file(shared_path("models", "animeganv2", "random_seed0.pt"), ImportOptions(id="classic"))
    with pytest.raises(StyleError, match="built-in"):
        cat.remove("classic")
    cat.remove("v2")
    assert "v2" not in cat.ids()


def test_import_onnx_with_overrides(tmp_path: Path) -> None:
    cat = StyleCatalog(user_dir=tmp_path / "user")
    e = cat.import_file(shared_path("models", "whitebox", "whitebox_cartoonize.onnx"),
                        ImportOptions(id="wb", name="White box", color="RGB", recommended_size=320))
    m = read_style(e.path).manifest
    assert (m.color, m.recommended_size, m.name, m.layout) == ("RGB", 320, "White box", "NCHW")


def test_default_style_choice(tmp_path: Path) -> None:
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    write_json_style(builtin / "classic.json", StyleManifest(id="classic", name="C", arch="classic", tier="classic"))
    cat = StyleCatalog(builtin_dir=builtin, user_dir=tmp_path / "user")
    assert cat.default_style_id(gpu=False) == "classic"
    assert cat.default_style_id(gpu=True) == "classic"
    lite_style(builtin, "hayao_lite")
    assert cat.default_style_id(gpu=False) == "hayao_lite"
    assert cat.default_style_id(gpu=True) == "hayao_lite"
    q = read_manifest(builtin / "hayao_lite.safetensors")
    q.id, q.tier = "hayao", "quality"
    write_torch_style(builtin / "hayao.safetensors", read_style(builtin / "hayao_lite.safetensors").tensors, q)
    assert cat.default_style_id(gpu=True) == "hayao"
    assert cat.default_style_id(gpu=False) == "hayao_lite"


def test_create_backend_takes_a_loaded_style_only() -> None:
    """Ids and paths are resolved by the caller's catalog, never inside the backend factory."""
    with pytest.raises(TypeError, match="StyleFile"):
        create_backend("classic")  # type: ignore[arg-type]


def test_entries_read_each_manifest_once_and_see_a_new_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cartoon_cam.inference import catalog as catalog_mod

    reads: list[Path] = []
    real = catalog_mod.read_manifest
    monkeypatch.setattr(catalog_mod, "read_manifest", lambda p: reads.append(Path(p)) or real(p))
    cat = StyleCatalog(user_dir=tmp_path / "user")
    first = cat.ids()
    n = len(reads)
    assert n >= len(first) > 0
    for _ in range(5):  # a style switch asks for the list: nothing is read again
        assert cat.ids() == first
    assert len(reads) == n
    m = StyleManifest(id="my_classic", name="Mine", arch="classic", tier="classic", size_multiple=1)
    write_json_style((tmp_path / "user").mkdir() or tmp_path / "user" / "my_classic.json", m)
    assert cat.ids() == [*first, "my_classic"]  # a new file is seen …
    assert len(reads) == n + 1  # … and only it is read
    (tmp_path / "user" / "my_classic.json").unlink()
    assert cat.ids() == first


def test_resolve_by_id_and_path(tmp_path: Path) -> None:
    assert load_style("classic").manifest.arch == "classic"
    p = lite_style(tmp_path)
    assert load_style(p).id == "mylite"
    assert load_style(str(shared_path("models", "cartoongan", "paprika.npz"))).manifest.arch == "cartoongan"
    with pytest.raises(StyleError, match="unknown style"):
        load_style("no_such_style")


@pytest.mark.parametrize("fp16", [False, True])
def test_export_onnx_matches_pytorch_and_loads_as_style(tmp_path: Path, fp16: bool) -> None:
    sf = import_model_file(shared_path("models", "animeganv2", "random_seed0.pt"))
    out = tmp_path / "v2.onnx"
    check = export_onnx(sf, out, fp16=fp16)
    assert check is not None and check.max_abs_diff <= (32 if fp16 else 2)
    assert len(check.sizes) == 2 and check.sizes[0] != check.sizes[1]  # dynamic H/W exercised
    exported = load_style(out)
    assert exported.manifest.precision == ("fp16" if fp16 else "fp32")
    img = probe_frame(120, 160)
    with create_backend(exported, device="cpu", size=160) as a, create_backend(sf, backend="torch", size=160) as b:
        diff = np.abs(a.process(img).astype(int) - b.process(img).astype(int))
    assert diff.mean() < (1.0 if fp16 else 0.05)


def test_export_refuses_classic(tmp_path: Path) -> None:
    with pytest.raises(StyleError, match="no network"):
        export_onnx(load_style("classic"), tmp_path / "c.onnx")
    assert not (tmp_path / "c.onnx").exists()


# --------------------------------------------------------------------------- corrupt style files on import


def test_import_refuses_a_style_file_whose_weights_fail_their_checksum(tmp_path: Path) -> None:
    p = lite_style(tmp_path)
    data = bytearray(p.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte inside the last tensor; the manifest is intact
    p.write_bytes(bytes(data))
    cat = StyleCatalog(user_dir=tmp_path / "user")
    with pytest.raises(StyleError, match="checksum"):
        cat.import_file(p, ImportOptions(id="other"))
    assert not (tmp_path / "user").exists() or not any((tmp_path / "user").iterdir())


def _tiny_onnx_style(path: Path) -> Path:
    """A 1x1-convolution ONNX model (NCHW, dynamic H/W) written as a style file."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from cartoon_cam.inference.style import write_onnx_style

    w = numpy_helper.from_array((np.eye(3, dtype=np.float32) * 0.5)[:, :, None, None], "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, "h", "w"])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    m = StyleManifest(id="tiny", name="Tiny", arch="onnx", size_multiple=1, tier="imported")
    return write_onnx_style(path, model, m)


def test_import_refuses_an_onnx_style_whose_weights_fail_their_checksum(tmp_path: Path) -> None:
    import onnx

    p = _tiny_onnx_style(tmp_path / "tiny.onnx")
    cat = StyleCatalog(user_dir=tmp_path / "user")
    assert cat.import_file(p, ImportOptions(id="tiny_ok")).manifest.sha256 == read_manifest(p).sha256
    model = onnx.load(str(p))
    raw = bytearray(model.graph.initializer[0].raw_data)
    raw[0] ^= 0xFF
    model.graph.initializer[0].raw_data = bytes(raw)  # the manifest (and its sha256) are kept
    onnx.save(model, str(p))
    with pytest.raises(StyleError, match="checksum"):
        cat.import_file(p, ImportOptions(id="tiny_bad"))
    assert sorted(q.name for q in (tmp_path / "user").iterdir()) == ["tiny_ok.onnx"]


# --------------------------------------------------------------------------- `cartoon-cam styles` CLI


def _one_error_line(err: str, needle: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("cartoon-cam: error: ") and needle in lines[0], err


def test_styles_cli_list_import_export_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cartoon_cam.cli import main

    src = lite_style(tmp_path)
    assert main(["styles", "import", str(src), "--id", "mine", "--name", "Mine"]) == 0
    assert "imported 'mine'" in capsys.readouterr().out
    assert main(["styles", "list"]) == 0
    out = capsys.readouterr().out
    assert any(ln.split()[:1] == ["classic"] for ln in out.splitlines())
    assert any(ln.split()[:2] == ["mine", "Mine"] and "imported" in ln for ln in out.splitlines())
    assert main(["styles", "list", "--json"]) == 0
    listed = {e["id"]: e for e in json.loads(capsys.readouterr().out)}
    assert listed["classic"]["builtin"] and not listed["mine"]["builtin"]
    assert main(["styles", "export", "mine", "--onnx", str(tmp_path / "mine.onnx")]) == 0
    assert "checked against PyTorch" in capsys.readouterr().out
    assert read_manifest(tmp_path / "mine.onnx").arch == "onnx"
    assert main(["styles", "remove", "mine"]) == 0
    assert "removed 'mine'" in capsys.readouterr().out
    assert main(["styles", "list", "--json"]) == 0
    assert "mine" not in {e["id"] for e in json.loads(capsys.readouterr().out)}


def test_styles_cli_list_skips_a_broken_style_file(capsys: pytest.CaptureFixture[str]) -> None:
    from cartoon_cam import paths
    from cartoon_cam.cli import main

    paths.user_styles_dir().mkdir(parents=True)
    (paths.user_styles_dir() / "broken.safetensors").write_bytes(b"\x00" * 10)
    assert main(["styles", "list"]) == 0
    assert "classic" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "needle"), [
    (["styles", "import", "{tmp}/missing.pt"], "model file not found"),
    (["styles", "import", "{corrupt}"], "checksum"),
    (["styles", "import", "{good}", "--id", "Bad Id"], "invalid id"),
    (["styles", "remove", "no_such_style"], "unknown style"),
    (["styles", "remove", "classic"], "built-in"),
    (["styles", "export", "no_such_style", "--onnx", "{tmp}/x.onnx"], "unknown style"),
    (["styles", "export", "{good}", "--onnx", "{tmp}/x.txt"], "must end in .onnx"),
    (["styles", "export", "{good}", "--onnx", "/proc/nope/x.onnx"], "cannot write"),
    (["styles", "export", "classic", "--onnx", "{tmp}/c.onnx"], "no network"),
])
def test_styles_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                        needle: str) -> None:
    from cartoon_cam.cli import main

    good = lite_style(tmp_path, "good")
    corrupt = lite_style(tmp_path, "corrupt")
    data = bytearray(corrupt.read_bytes())
    data[-100] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    args = [a.format(tmp=tmp_path, good=good, corrupt=corrupt) for a in argv]
    assert main(args) == 2
    _one_error_line(capsys.readouterr().err, needle)
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "c.onnx").exists()
    user = Path(os.environ["CARTOON_CAM_DATA_DIR"]) / "styles"
    assert not user.exists() or not any(user.iterdir())  # nothing imported


def test_styles_cli_unwritable_user_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from cartoon_cam.cli import main

    src = lite_style(tmp_path)
    (tmp_path / "file").write_text("a file where the data folder should be")
    monkeypatch.setenv("CARTOON_CAM_DATA_DIR", str(tmp_path / "file" / "data"))
    assert main(["styles", "import", str(src)]) == 2
    _one_error_line(capsys.readouterr().err, "cannot write to the style folder")


def test_styles_cli_remove_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from cartoon_cam.cli import main

    assert main(["styles", "import", str(lite_style(tmp_path)), "--id", "mine"]) == 0
    capsys.readouterr()

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    assert main(["styles", "remove", "mine"]) == 2
    _one_error_line(capsys.readouterr().err, "cannot remove")


def test_default_style_probes_the_gpu_only_when_it_matters(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Importing torch to probe CUDA costs a second on the GUI thread: only done when a built-in
    quality style exists (else the answer is the same on a GPU)."""
    from cartoon_cam.inference import backends

    probes: list[str] = []
    monkeypatch.setattr(backends, "_torch_cuda", lambda: probes.append("torch") or True)
    monkeypatch.setattr(backends, "_ort_gpu", lambda: probes.append("ort") or False)
    shipped = StyleCatalog()
    if not any(e.builtin and e.manifest.tier == "quality" for e in shipped.entries()):
        assert shipped.default_style_id() == shipped.default_style_id(gpu=False)
        assert probes == []
    folder = tmp_path / "builtin"
    folder.mkdir()
    for sid, tier in (("classic", "classic"), ("speedy", "lite")):
        write_json_style(folder / f"{sid}.json", StyleManifest(id=sid, name=sid, arch="classic", tier=tier,
                                                              size_multiple=1, recommended_size=256))
    assert StyleCatalog(builtin_dir=folder).default_style_id() == "speedy"
    assert probes == []
    write_json_style(folder / "fancy.json", StyleManifest(id="fancy", name="fancy", arch="classic",
                                                          tier="quality", size_multiple=1, recommended_size=256))
    assert StyleCatalog(builtin_dir=folder).default_style_id() == "fancy"
    assert probes == ["torch"]
