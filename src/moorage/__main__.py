"""``python -m moorage`` is the ``moorage`` command."""

import sys

from moorage.cli import main

sys.exit(main())
