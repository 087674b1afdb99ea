"""Work-arounds for bugs in the Qt binding, in one place.

**PySide6 6.12.0: ``SignalInstance.emit()`` returns ``True`` without a reference.** Each emit from
Python then takes one reference away from the ``True`` singleton; at 60 emits per second its count
reaches zero within minutes (or at exit) and CPython aborts with *"Fatal Python error:
bool_dealloc: deallocating True or False"* (before Python 3.12, where ``True`` is not immortal).
Every signal this package emits goes through :func:`emit`, which gives the reference back when the
bug is present (detected once, at import, so a fixed PySide6 needs no change here).

**PySide6 6.12.0: methods returning ``void`` return ``None`` without a reference.** Every such call
(``QWidget.update()``, ``QLabel.setText()``, ``QSettings.setValue()``, ``QTimer.start()``, …) takes
one reference away from ``None``. The window makes a few hundred of them a second (measured: about
250 a second on the 2-core dev machine) and ``None`` starts with about 55 000, so after a few
minutes, or in the garbage collection at exit, CPython aborts with *"Fatal Python error:
none_dealloc: deallocating None"* (issue 13; a bare ``QLabel.update()`` loop reproduces it after
about 5 000 calls). Which calls are affected is not ours to list, so instead of compensating call by
call :func:`protect_singletons` does what Python 3.12 does for every build: it makes ``None``,
``True`` and ``False`` effectively immortal by adding 2**40 references once (at a million lost
references a second that lasts twelve days). It runs only when one of the two bugs is detected, on
CPython before 3.12 and not on a ``Py_TRACE_REFS`` build, and checks that each count moved exactly
as intended.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance


class _Probe(QObject):
    fired = Signal()


def _drops_a_reference(obj: object, call: Callable[[], object]) -> bool:
    """Whether each ``call()`` takes away one reference to ``obj`` (64 tries); the probe's own
    damage is repaired."""
    n = 64
    before = sys.getrefcount(obj)
    for _ in range(n):
        call()
    dropped = before - sys.getrefcount(obj)
    if dropped >= n - 4:
        for _ in range(dropped):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
        return True
    return False


def _emit_drops_a_true_reference() -> bool:
    probe = _Probe()
    return _drops_a_reference(True, probe.fired.emit)


def _void_call_drops_a_none_reference() -> bool:
    probe = _Probe()
    return _drops_a_reference(None, lambda: probe.setObjectName("probe"))  # a method returning void


IMMORTAL_REFS = 1 << 40
_REFCOUNT_SLACK = 1 << 20  # references others may take or drop while protect_singletons checks
_refcount = sys.getrefcount  # (tests put a drifting count here)


def protect_singletons(objects: tuple[object, ...] = (None, True, False)) -> bool:
    """Add :data:`IMMORTAL_REFS` references to each of ``objects``, so that a C extension taking
    references it does not own can never free them. Only on CPython before 3.12 (3.12 and later
    have immortal objects) and not on a ``Py_TRACE_REFS`` debug build (whose object header differs).
    Returns True when applied; checks that each count moved by the amount added, and
    undoes everything if one did not (within :data:`_REFCOUNT_SLACK`: a few references taken or
    dropped meanwhile are not a wrong layout)."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or hasattr(sys, "getobjects"):
        return False
    done: list[object] = []
    was_enabled = gc.isenabled()
    gc.disable()  # a collection in between would free objects holding references, moving the count
    try:
        for obj in objects:
            cell = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt, the first field of a PyObject
            before = _refcount(obj)
            cell.value += IMMORTAL_REFS
            # The check is of the layout (did the count move by 2**40?), not of the exact count: the
            # interpreter may take or drop a few references to None meanwhile (seen: 1 fresh
            # interpreter in 60 failed an exact check and stayed unprotected; a QLabel.update() loop
            # then crashed it, as tests/test_qt_compat.py does).
            if abs(_refcount(obj) - before - IMMORTAL_REFS) > _REFCOUNT_SLACK:
                cell.value -= IMMORTAL_REFS
                for o in done:
                    ctypes.c_ssize_t.from_address(id(o)).value -= IMMORTAL_REFS
                return False
            done.append(obj)
    finally:
        if was_enabled:
            gc.enable()
    return True


EMIT_DROPS_TRUE = _emit_drops_a_true_reference()
VOID_DROPS_NONE = _void_call_drops_a_none_reference()
SINGLETONS_PROTECTED = protect_singletons() if (VOID_DROPS_NONE or EMIT_DROPS_TRUE) else False
_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


def emit(signal: SignalInstance, *args: Any) -> None:
    """``signal.emit(*args)`` without the PySide6 6.12.0 reference bug (safe from any thread)."""
    signal.emit(*args)
    if EMIT_DROPS_TRUE:
        _incref(True)
