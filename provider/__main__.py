"""``python -m provider``: the command line (plan, drift, verify, regions); see provider/cli.py."""

import sys

from .cli import main

sys.exit(main())
