"""Fixtures of the integrator's test suite: the application wired to the sandbox.

`sandbox_server`, `sandbox_app` and `sandbox_token` come from the sandbox's pytest
plugin, which `pip install sandbox` registers; nothing else to configure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eligibility import ApiGouv

from sandbox.pytest_plugin import SandboxServer, ensure_registered


def pytest_configure(config: pytest.Config) -> None:
    # Only for running these examples from a source checkout where the package's pytest11
    # entry point is not installed: an installed `sandbox` has registered the plugin already.
    ensure_registered(config)


@pytest.fixture(scope="session")
def api(sandbox_server: SandboxServer) -> Iterator[ApiGouv]:
    """The application's client, pointed at the sandbox: both APIs are served on one port."""
    client = ApiGouv.connect(
        entreprise_url=sandbox_server.base_url,
        particulier_url=sandbox_server.base_url,
        token=sandbox_server.token,
    )
    yield client
    client.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
