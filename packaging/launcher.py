"""Entry point of the frozen app: the same CLI as ``cartoon-cam`` (no arguments → the window)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from cartoon_cam.cli import main

    sys.exit(main())
