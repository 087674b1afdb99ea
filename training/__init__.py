"""``training``: AnimeGANv2 training and teacher distillation producing cartoon_cam style files.

Uses the app's architectures from :mod:`cartoon_cam.inference` (never the other way round) and no Qt.
Entry point: ``cartoon-cam-train prep | train | distill | export | eval`` (:mod:`training.cli`).
"""
