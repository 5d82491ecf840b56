"""Entry point for ``python -m reprokit``."""

from __future__ import annotations

import sys

from reprokit.cli import main

sys.exit(main())
