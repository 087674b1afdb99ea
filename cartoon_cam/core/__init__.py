"""Frames, sources, pipeline and stats (no Qt)."""
