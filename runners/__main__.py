"""``python -m runners`` is the same as the ``hearloop`` console script."""

import sys

from runners.cli import main

sys.exit(main())
