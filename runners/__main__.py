"""``python -m runners`` is the same as the ``hearloop`` console script."""

import sys

from runners.cli import main

if __name__ == "__main__":  # spawned worker processes (hearloop synth --workers N) import this module again
    sys.exit(main())
