"""Architecture registry: ``@register_arch(name)`` fills a dict; ``create_model(name)`` builds one.

Every registered architecture is a ``torch.nn.Module`` mapping NCHW float32 RGB in [-1, 1] to
NCHW float32 RGB in [-1, 1] of the same size (the size must be a multiple of ``size_multiple``).
Published models that work in BGR get their channel swap from the style's preprocessing contract,
not from the module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing this module needs no torch; building a model does
    import torch.nn as nn


@dataclass(frozen=True)
class ArchInfo:
    name: str
    factory: Callable[..., nn.Module]
    size_multiple: int
    color: str  # "RGB" or "BGR": the colour order the network expects
    description: str


_ARCHS: dict[str, ArchInfo] = {}


def register_arch(name: str, *, size_multiple: int, color: str = "RGB", description: str = ""):
    """Class decorator registering a generator architecture under ``name``."""

    def deco(cls: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _ARCHS:
            raise ValueError(f"architecture {name!r} registered twice")
        _ARCHS[name] = ArchInfo(name, cls, size_multiple, color, description or (cls.__doc__ or "").strip().split("\n")[0])
        return cls

    return deco


def _ensure_loaded() -> None:
    """Import the built-in architectures (they register themselves): needs PyTorch."""
    try:
        from . import archs  # noqa: F401
    except ModuleNotFoundError as e:
        if e.name != "torch" and not (e.name or "").startswith("torch."):
            raise
        from ..errors import needs_torch

        raise needs_torch("the PyTorch architectures (animeganv2, cartoongan, lite)") from None


def list_archs() -> list[str]:
    _ensure_loaded()
    return sorted(_ARCHS)


def arch_info(name: str) -> ArchInfo:
    _ensure_loaded()
    try:
        return _ARCHS[name]
    except KeyError:
        raise KeyError(f"unknown architecture {name!r} (known: {', '.join(sorted(_ARCHS))})") from None


def create_model(name: str, **config: Any) -> nn.Module:
    """Build an architecture with random weights, in eval mode."""
    return arch_info(name).factory(**config).eval()
