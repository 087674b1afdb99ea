"""``python -m training`` = ``cartoon-cam-train``."""

import sys

from .cli import main

sys.exit(main())
