"""``python -m glt``: the ``glt`` command (see :mod:`glt.cli`)."""
import sys

from glt.cli import main

sys.exit(main())
