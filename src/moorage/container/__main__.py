"""``python -m moorage.container``: run the model server (see :mod:`moorage.container.server`)."""

from __future__ import annotations

from moorage.container.server import main

if __name__ == "__main__":
    raise SystemExit(main())
