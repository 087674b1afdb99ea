"""Presets, config files, CLI overrides and the saved resolved config."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from training.config import (
    PRESETS,
    ConfigError,
    _tomllib,
    from_dict,
    load_file,
    parse_set,
    resolve,
    to_toml,
)


def test_presets_carry_the_official_weights() -> None:
    h = resolve(preset="hayao")
    assert (h.loss.con, h.loss.sty, h.loss.col, h.loss.tv) == (1.5, 2.5, 15.0, 1.0)
    assert (h.loss.d_real, h.loss.d_fake, h.loss.d_gray, h.loss.d_smooth) == (1.2, 1.2, 1.2, 0.8)
    p = resolve(preset="paprika")
    assert (p.loss.con, p.loss.sty, p.loss.col, p.loss.tv, p.loss.d_smooth) == (2.0, 0.6, 50.0, 0.1, 0.005)
    s = resolve(preset="shinkai")
    assert (s.loss.con, s.loss.sty, s.loss.col, s.loss.d_real) == (1.2, 2.0, 10.0, 1.7)
    for c in (h, p, s):
        assert (c.optim.lr_init, c.optim.lr_g, c.optim.lr_d, c.optim.beta1, c.optim.beta2) == (2e-4, 2e-5, 4e-5, 0.5, 0.999)
        assert (c.train.batch, c.data.size, c.train.init_epochs, c.loss.g_adv, c.loss.d_adv) == (12, 256, 10, 300, 300)
    assert {"hayao", "shinkai", "paprika", "ci_tiny"} <= set(PRESETS)


def test_every_preset_resolves_and_the_lite_stage_presets_keep_the_shipped_topology() -> None:
    """Each preset is a valid config; the fine-tune presets of the built-in lite styles keep the
    shipped students' topology (so ``--init-from`` a shipped style loads every weight)."""
    for name in PRESETS:
        assert resolve(preset=name).preset == name
    for name in ("distill_lite_lowpass", "distill_lite_steady", "distill_lite_gan", "distill_lite_more"):
        cfg = resolve(preset=name)
        assert cfg.model.arch == "lite" and cfg.model.arch_config == {"smooth_skip": 5, "smooth_input": 3}, name
        assert cfg.data.size == 0 and cfg.data.noise > 0, name  # whole images, camera noise
    assert resolve(preset="distill_lite_steady").loss.steady > 0
    toon = resolve(preset="distill_lite_toon")  # stage 4: the same weights plus the fixed cel-shading layer
    assert toon.model.arch_config == {"smooth_skip": 5, "smooth_input": 3, "toon_levels": 6,
                                      "toon_sharpness": 40.0, "toon_sigma": 3.0}
    assert toon.data.size == 0 and toon.data.noise > 0 and toon.loss.steady > 0
    cel = resolve(preset="distill_lite_cel")  # stage 5: the same layer at half resolution, adaptive slope
    assert cel.model.arch_config == {**toon.model.arch_config, "toon_half": True, "toon_soft": 20.0,
                                     "toon_gradient": 0.006}
    assert cel.data.size == 0 and cel.data.noise > 0 and cel.loss.steady > 0
    calm = resolve(preset="distill_lite_calm")  # stage 6: stage 5's layer, calmer and with more ink
    assert calm.model.arch_config == cel.model.arch_config
    assert calm.loss.steady > cel.loss.steady and calm.loss.ink > cel.loss.ink and calm.loss.ink_pixel > cel.loss.ink_pixel
    assert (calm.train.steps, calm.optim.lr) == (600, 2e-4) and calm.data.noise == cel.data.noise
    calmer, f1 = resolve(preset="distill_lite_calmer"), resolve(preset="distill_lite_f1")  # stage 9: + soft ink F1
    assert f1.model.arch_config == cel.model.arch_config and calmer.loss.ink_f1 == 0.0 < f1.loss.ink_f1
    assert {**asdict(f1.loss), "ink_f1": 0.0} == asdict(calmer.loss)
    calm.model.arch_config["toon_levels"] = 99  # a resolved config holds copies: presets share _CEL_ARCH
    assert resolve(preset="distill_lite_cel").model.arch_config["toon_levels"] == 6
    from cartoon_cam.inference.registry import create_model

    create_model("lite", **cel.model.arch_config)  # the lite options are valid as written
    gan = resolve(preset="distill_lite_gan")
    assert gan.loss.gan > 0 and gan.loss.gan_blur > 0 and gan.model.d_crop % 4 == 0 and gan.model.d_crop > 0


def test_precedence_file_then_flags(tmp_path: Path) -> None:
    f = tmp_path / "run.toml"
    f.write_text('preset = "hayao"\n[loss]\ncol = 20\n[train]\nbatch = 4\n', encoding="utf-8")
    cfg = resolve(config_file=f, overrides={"train": {"batch": 8}, **parse_set(["data.scales=[1.0, 0.5]"])})
    assert cfg.preset == "hayao" and cfg.loss.col == 20.0 and cfg.loss.sty == 2.5
    assert cfg.train.batch == 8 and cfg.data.scales == [1.0, 0.5]
    assert resolve(config_file=f, preset="paprika").loss.sty == 0.6  # CLI preset beats the file's


def test_unknown_keys_and_bad_values_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key loss.colour"):
        resolve(overrides={"loss": {"colour": 1}})
    with pytest.raises(ConfigError, match="unknown section"):
        resolve(overrides={"losses": {"col": 1}})
    with pytest.raises(ConfigError, match="expected an integer"):
        resolve(overrides=parse_set(["train.batch=2.5"]))
    with pytest.raises(ConfigError, match="multiple of 8"):
        resolve(overrides={"data": {"size": 100}})
    with pytest.raises(ConfigError, match="ink_f1_softness"):
        resolve(overrides=parse_set(["loss.ink_f1_softness=0"]))
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve(preset="ghibli")
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_set(["batch=3"])


def test_resolved_config_round_trips_through_toml() -> None:
    cfg = resolve(preset="ci_tiny", overrides=parse_set(['export.name="My style"', "model.arch_config={widths=[8,16,32]}"]))
    data = _tomllib().loads(to_toml(cfg))
    back = from_dict(data)
    assert back == cfg and back.hash() == cfg.hash()


def test_toml_round_trip_keeps_nested_tables_lists_floats_and_awkward_strings(tmp_path: Path) -> None:
    """to_toml (tomli-w) → load_file (tomllib) gives the same values: nested tables, lists, floats
    (small, negative, inf), and strings with quotes, backslashes, newlines, tabs and non-ASCII."""
    import math

    name = 'My "quoted" style\\with a backslash\nand a newline\tand a tab, ünïcode ✓'
    arch = {"widths": [8, 16, 32], "ratios": [0.5, 1.25, -3e-07], "inner": {"eps": 1e-05, "tag": "a'b\"c",
            "deeper": {"on": True, "none_of": []}}, "limit": math.inf}
    cfg = resolve(preset="ci_tiny", overrides={"export": {"name": name}, "model": {"arch_config": arch}})
    (tmp_path / "c.toml").write_text(to_toml(cfg), encoding="utf-8")
    data = load_file(tmp_path / "c.toml")
    assert data == cfg.to_dict()
    assert data["export"]["name"] == name and data["model"]["arch_config"] == arch
    assert from_dict(data) == cfg


def test_yaml_config_needs_pyyaml(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("train:\n  batch: 3\n", encoding="utf-8")
    try:
        import yaml  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(ConfigError, match="PyYAML"):
            resolve(config_file=f)
    else:
        assert resolve(config_file=f).train.batch == 3


def test_training_imports_no_qt_and_app_never_imports_training() -> None:
    code = ("import sys, training.cli, training.trainer, training.distill, training.evaluate, training.export; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'shiboken'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
    pkg = Path(__file__).resolve().parents[1] / "cartoon_cam"
    offenders = [p for p in pkg.rglob("*.py") if "import training" in (t := p.read_text(encoding="utf-8"))
                 or "from training" in t]
    assert not offenders


def test_the_recipes_parse_and_name_presets_that_exist() -> None:
    """Every recipe in training/recipes is valid bash (``bash -n``) and every ``distill_*`` preset it
    names exists, so a typo fails here instead of an hour into a training session."""
    import re

    recipes = sorted((Path(__file__).resolve().parents[1] / "training" / "recipes").glob("*.sh"))
    assert len(recipes) >= 8
    named: set[str] = set()
    for f in recipes:
        res = subprocess.run(["bash", "-n", str(f)], capture_output=True, text=True, check=False)
        assert res.returncode == 0, f"{f.name}: {res.stderr}"
        named |= set(re.findall(r"\bdistill_[a-z0-9_]+\b", f.read_text(encoding="utf-8")))
    assert {"distill_lite_cel", "distill_lite_calm"} <= named
    assert named <= set(PRESETS), sorted(named - set(PRESETS))
