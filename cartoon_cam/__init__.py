"""cartoon_cam: real-time anime / cartoon webcam."""

__version__ = "0.1.0"
