"""``python -m provider``: the command line (plan, drift, report, import, verify, regions); see provider/cli/."""

import sys

from .cli import main

sys.exit(main())
