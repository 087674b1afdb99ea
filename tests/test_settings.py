"""The Qt-free settings schema (cartoon_cam.settings): one resolution parser, one set of view
modes and presets, validation of stored values; the QSettings adapter reads through it."""

from __future__ import annotations

import argparse

import pytest

from cartoon_cam import settings
from cartoon_cam.errors import InputError
from cartoon_cam.settings import (
    DEFAULTS,
    OUTPUT_DEFAULTS,
    ResolutionError,
    parse_resolution,
    resolution_arg,
    validate,
    validate_output,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("1280x720", (1280, 720)), (" 640X360 ", (640, 360)), ("", None), (None, None), ("16x16", (16, 16)),
])
def test_parse_resolution_accepts(text: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_resolution(text) == expected


@pytest.mark.parametrize("text", ["big", "1280", "1280x", "x720", "15x720", "-5x10", "1280x720x3", "12.5x20"])
def test_parse_resolution_refuses_with_the_option_named(text: str) -> None:
    with pytest.raises(ResolutionError, match="--resolution .*expected WIDTHxHEIGHT"):
        parse_resolution(text)


def test_a_resolution_over_the_limits_is_refused_and_is_an_input_error() -> None:
    with pytest.raises(ResolutionError, match="larger than the limit") as info:
        parse_resolution("20000x20000")
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)


def test_resolution_arg_is_a_usage_error() -> None:
    assert resolution_arg("320x180") == (320, 180)
    with pytest.raises(argparse.ArgumentTypeError, match="expected WIDTHxHEIGHT"):
        resolution_arg("wide")
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=resolution_arg)
    with pytest.raises(SystemExit) as exit_info:
        p.parse_args(["--size", "1x1"])
    assert exit_info.value.code == 2


def test_stored_values_are_checked_by_the_schema() -> None:
    assert validate("view/mode", None) == DEFAULTS["view/mode"]
    assert validate("view/mode", "split") == "split"
    assert validate("view/mode", "upside_down") == DEFAULTS["view/mode"]
    assert validate("view/mirror", "true") is True and validate("view/mirror", "0") is False
    assert validate("view/strength", "3.5") == 1.0 and validate("view/strength", "-1") == 0.0
    assert validate("view/strength", "lots") == DEFAULTS["view/strength"]
    assert validate("inference/quality", "fast") == "fast"
    assert validate("inference/quality", "384") == "384"
    assert validate("inference/quality", "99999") == DEFAULTS["inference/quality"]
    with pytest.raises(KeyError):
        validate("view/no_such_key", 1)


def test_output_values_are_checked_by_the_schema() -> None:
    assert validate_output("vcam_size", "640x360") == "640x360"
    assert validate_output("vcam_size", "123x45") == OUTPUT_DEFAULTS["vcam_size"]
    assert validate_output("record_audio", "true") is True and validate_output("record_audio", False) is False
    assert validate_output("snapshot_format", "") == OUTPUT_DEFAULTS["snapshot_format"]
    for key, allowed in settings.OUTPUT_CHOICES.items():  # every default is one of its choices
        assert OUTPUT_DEFAULTS[key] in allowed


def test_presets_and_sizes_round_trip() -> None:
    for key, (_, size) in settings.QUALITY_PRESETS.items():
        assert settings.inference_size(key) == size
        assert settings.quality_for_size(size) == key
    assert settings.quality_for_size(300) == "300" and settings.inference_size("300") == 300


def test_the_window_and_the_command_line_share_the_view_modes() -> None:
    pytest.importorskip("PySide6")
    from cartoon_cam.ui import app_settings, preview_widget

    assert preview_widget.MODES == settings.VIEW_MODES == app_settings.VIEW_MODES
    assert set(preview_widget.MODE_LABELS) == set(settings.VIEW_MODES)
    assert app_settings.DEFAULTS is settings.DEFAULTS
