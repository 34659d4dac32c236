"""``python -m setkey_tui``."""

import sys

from setkey_tui.cli import main

sys.exit(main())
