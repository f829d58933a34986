"""Whether a missing browser skips the browser tests (a developer's machine) or fails them (CI).

`make test` never installs Chromium or axe-core: without them the browser tests are reported as
skipped, with the reason (`-ra`). `.ci/run` installs both and sets `SANDBOX_BROWSER_TESTS=required`,
so that a CI machine that lost them fails instead of passing with less tested.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRED = os.environ.get("SANDBOX_BROWSER_TESTS", "") == "required"


def skip_browser_tests(reason: str, *, module: bool = True) -> NoReturn:
    """Skip (the module, or this test) with `reason`, or fail with it when the browser tests are required."""
    if REQUIRED:
        pytest.fail(f"SANDBOX_BROWSER_TESTS=required: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module)
