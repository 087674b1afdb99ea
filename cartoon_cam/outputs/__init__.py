"""Snapshots, recording and the virtual camera (no Qt)."""
