"""``python -m setkey_tui.plan plan|apply ...``."""

import sys

from setkey_tui.plan.cli import main

sys.exit(main(sys.argv[1:], sys.stdout, sys.stderr, sys.stdin))
