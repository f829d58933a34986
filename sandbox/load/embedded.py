"""Where the embedded default fixture repository lives: packaged, or the source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def default_fixtures() -> Path:
    """The embedded default repository: packaged under `sandbox/_default`, or the source checkout."""
    for candidate in (_PACKAGE / "_default", _PACKAGE.parent):
        if (candidate / "payloads").is_dir():
            return candidate
    return _PACKAGE / "_default"
