"""PySide6 6.12.0 takes references it does not own: from ``True`` on every ``emit()`` and from
``None`` on every call of a method returning void. Before Python 3.12 that ends in "Fatal Python
error: none_dealloc / bool_dealloc" (issue 13's crash at exit). qt_compat makes them immortal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from cartoon_cam.ui import qt_compat  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
_LOOP = ("from PySide6.QtWidgets import QApplication, QLabel; app = QApplication([]); lab = QLabel('x'); "
         "[lab.update() for _ in range(300_000)]; print('survived', flush=True)")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})


def test_void_calls_cannot_free_none_once_qt_compat_is_imported() -> None:
    r = _run("import cartoon_cam.ui.qt_compat as q; print(q.VOID_DROPS_NONE, q.SINGLETONS_PROTECTED); " + _LOOP)
    assert r.returncode == 0 and "survived" in r.stdout, (r.stdout[:200], r.stderr[-2000:])


@pytest.mark.skipif(not qt_compat.VOID_DROPS_NONE or sys.version_info >= (3, 12),
                    reason="this PySide6 / Python does not have the bug")
def test_the_bug_is_real_without_the_guard() -> None:
    """The control: the same loop without qt_compat dies with the error issue 13 reported."""
    r = _run(_LOOP)
    assert r.returncode != 0 and "none_dealloc" in r.stderr


def test_protection_is_verified_and_refcounts_are_huge() -> None:
    if qt_compat.SINGLETONS_PROTECTED:
        for obj in (None, True, False):
            assert sys.getrefcount(obj) > qt_compat.IMMORTAL_REFS // 2
    assert qt_compat.protect_singletons(()) in (True, False)  # nothing to do: no error either



_DRIFT = """
import sys
import cartoon_cam.ui.qt_compat as q
def drifting(offsets):
    calls = iter(offsets)
    return lambda obj: sys.getrefcount(obj) + next(calls, 0)
a, b = object(), object()
start = sys.getrefcount(a), sys.getrefcount(b)
q._refcount = drifting([0, -7, 0, 5])  # a few references taken and dropped meanwhile
print("tolerated", q.protect_singletons((a, b)),
      sys.getrefcount(a) - start[0] == q.IMMORTAL_REFS, sys.getrefcount(b) - start[1] == q.IMMORTAL_REFS)
c, d = object(), object()
start = sys.getrefcount(c), sys.getrefcount(d)
q._refcount = drifting([0, 0, 0, 1 << 39])  # d's count moved by something other than 2**40
print("refused", q.protect_singletons((c, d)), (sys.getrefcount(c), sys.getrefcount(d)) == start, flush=True)
"""


@pytest.mark.skipif(sys.version_info >= (3, 12) or sys.implementation.name != "cpython",
                    reason="protection applies only to CPython before 3.12")
def test_protection_tolerates_references_taken_meanwhile_but_not_a_wrong_layout() -> None:
    """1 fresh interpreter in 60 failed the old exact check (the count of None moved by a few
    meanwhile) and left None unprotected; the update() loop above then crashed in CI. A few references taken or dropped are
    tolerated; a count that did not move by 2**40 (a wrong object layout) is undone and refused.
    In a child interpreter: objects with 2**40 references in the test process made a later test
    crash it."""
    r = _run(_DRIFT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "tolerated True True True" in r.stdout and "refused False True" in r.stdout, r.stdout
