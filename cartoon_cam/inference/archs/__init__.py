"""Built-in generator architectures (importing registers them)."""

from . import animeganv2, cartoongan, lite  # noqa: F401
