"""The Qt window (PySide6). This is the only package that imports Qt; it drives the Qt-free
:mod:`cartoon_cam.core` pipeline and is wired up by :mod:`cartoon_cam.app`."""
