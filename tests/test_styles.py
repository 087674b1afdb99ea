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
