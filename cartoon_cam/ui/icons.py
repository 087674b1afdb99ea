"""The toolbar's icons: small SVGs drawn here (no icon theme or emoji font needed), rendered in the
palette's text colour at several sizes so they stay sharp at 100 % and 200 % scaling.

``icon(name)`` → ``QIcon``; :data:`SVGS` lists the names. ``currentColor`` in an SVG becomes the
palette's window-text colour (a light or dark theme both work); ``#d32f2f`` (record) stays red.
``tooltip_with_shortcut(tip, action)``: the tooltip every toolbar action gets ("Mirror (M)").
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

_HEAD = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
         'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">')

#: name → the SVG's body (a 24×24 view box, stroked in ``currentColor``).
SVGS: dict[str, str] = {
    "side_by_side": '<rect x="2" y="5" width="9" height="14" rx="1.5"/><rect x="13" y="5" width="9" height="14" '
                    'rx="1.5" fill="currentColor" fill-opacity="0.35"/>',
    "split": '<rect x="2" y="5" width="20" height="14" rx="1.5"/><path d="M12 5v14" stroke-width="2.4"/>'
             '<path d="M12 5h10v14H12z" fill="currentColor" fill-opacity="0.35" stroke="none"/>',
    "cartoon": '<rect x="2" y="5" width="20" height="14" rx="1.5" fill="currentColor" fill-opacity="0.35"/>'
               '<circle cx="9" cy="11" r="1" fill="currentColor"/><circle cx="15" cy="11" r="1" fill="currentColor"/>'
               '<path d="M8.5 14.5q3.5 2.5 7 0"/>',
    "mirror": '<path d="M12 3v18" stroke-dasharray="2 2.2"/><path d="M9 7 3 17h6z"/>'
              '<path d="M15 7l6 10h-6z" fill="currentColor" fill-opacity="0.35"/>',
    "fullscreen": '<path d="M3 9V3h6M15 3h6v6M21 15v6h-6M9 21H3v-6"/>',
    "controls": '<rect x="2" y="4" width="20" height="16" rx="1.5"/><path d="M15 4v16"/>'
                '<path d="M17.5 8h2M17.5 11h2M17.5 14h2"/>',
    "about": '<circle cx="12" cy="12" r="9"/><path d="M12 11v6"/><circle cx="12" cy="7.5" r="0.6" '
             'fill="currentColor"/>',
    "snapshot": '<path d="M3 8.5A1.5 1.5 0 0 1 4.5 7H8l1.5-2.5h5L16 7h3.5A1.5 1.5 0 0 1 21 8.5v9A1.5 1.5 0 0 1 '
                '19.5 19h-15A1.5 1.5 0 0 1 3 17.5z"/><circle cx="12" cy="13" r="3.5"/>',
    "record": '<circle cx="12" cy="12" r="8.5"/><circle cx="12" cy="12" r="5" fill="#d32f2f" stroke="none"/>',
    "virtual_camera": '<rect x="2" y="6.5" width="13" height="11" rx="1.5"/><path d="M15 10.5l6-3.5v10l-6-3.5z"/>',
    "stream": '<circle cx="12" cy="12" r="2" fill="currentColor"/><path d="M8 8a5.7 5.7 0 0 0 0 8M16 8a5.7 5.7 0 0 1 '
              '0 8M5 5a10 10 0 0 0 0 14M19 5a10 10 0 0 1 0 14"/>',
    "outputs": '<path d="M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1"/><circle cx="15" cy="6" r="2"/>'
               '<circle cx="9" cy="12" r="2"/><circle cx="17" cy="18" r="2"/>',
    "import_style": '<path d="M12 3v11M7.5 9.5 12 14l4.5-4.5"/><path d="M4 15v4.5A1.5 1.5 0 0 0 5.5 21h13a1.5 1.5 0 0 '
                    '0 1.5-1.5V15"/>',
    "preferences": '<circle cx="12" cy="12" r="3"/><path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1'
                   'M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1"/>',
}
SIZES = (16, 20, 24, 32, 48, 64)


def svg(name: str, colour: str = "#000000") -> str:
    """The whole SVG document of icon ``name`` in ``colour``."""
    return (_HEAD + SVGS[name] + "</svg>").replace("currentColor", colour)


def _text_colour() -> str:
    app = QGuiApplication.instance()
    if app is None:
        return "#202020"
    return QGuiApplication.palette().color(QPalette.ColorRole.WindowText).name()


@cache
def _icon(name: str, colour: str) -> QIcon:
    renderer = QSvgRenderer(QByteArray(svg(name, colour).encode()))
    ic = QIcon()
    for px in SIZES:
        pm = QPixmap(px, px)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(p, QRectF(0, 0, px, px))
        p.end()
        ic.addPixmap(pm)
    return ic


def icon(name: str) -> QIcon:
    """Icon ``name`` (one of :data:`SVGS`) in the palette's text colour; ``KeyError`` otherwise."""
    if name not in SVGS:
        raise KeyError(f"no icon {name!r} (have: {', '.join(SVGS)})")
    return _icon(name, _text_colour())


def tooltip_with_shortcut(tip: str, action: QAction) -> str:
    """``tip`` followed by the action's shortcuts as the platform writes them: "Mirror (M)"."""
    keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
    keys = [k for k in keys if k]
    return f"{tip} ({', '.join(keys)})" if keys else tip
