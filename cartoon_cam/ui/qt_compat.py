"""Work-arounds for bugs in the Qt binding, in one place.

**PySide6 6.12.0: ``SignalInstance.emit()`` returns ``True`` without a reference.** Each emit from
Python then takes one reference away from the ``True`` singleton; at 60 emits per second its count
reaches zero within minutes (or at exit) and CPython aborts with *"Fatal Python error:
bool_dealloc: deallocating True or False"* (before Python 3.12, where ``True`` is not immortal).
Every signal this package emits goes through :func:`emit`, which gives the reference back when the
bug is present (detected once, at import, so a fixed PySide6 needs no change here).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance


class _Probe(QObject):
    fired = Signal()


def _emit_drops_a_true_reference() -> bool:
    probe = _Probe()
    n = 64
    before = sys.getrefcount(True)
    for _ in range(n):
        probe.fired.emit()
    dropped = before - sys.getrefcount(True)
    if dropped >= n - 4:
        for _ in range(dropped):  # repair the probe's own damage
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
        return True
    return False


EMIT_DROPS_TRUE = _emit_drops_a_true_reference()
_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


def emit(signal: SignalInstance, *args: Any) -> None:
    """``signal.emit(*args)`` without the PySide6 6.12.0 reference bug (safe from any thread)."""
    signal.emit(*args)
    if EMIT_DROPS_TRUE:
        _incref(True)
