"""Style models, inference backends and the style catalog (no Qt)."""
