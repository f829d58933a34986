"""`sandbox`'s public names: each one resolves, and importing the package imports none of them."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sandbox


@pytest.mark.parametrize("name", sorted(set(sandbox.__all__) - {"__version__"}))
def test_every_public_name_resolves_to_its_definition(name: str) -> None:
    value = getattr(sandbox, name)
    assert getattr(value, "__name__", name) == name
    assert name in dir(sandbox)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        getattr(sandbox, "nothing_here")  # noqa: B009


def test_all_lists_exactly_the_exported_names() -> None:
    assert set(sandbox.__all__) == {"__version__", *sandbox._EXPORTS}


def test_importing_the_package_loads_no_layer() -> None:
    probe = "import sys, sandbox; print(sorted(m for m in sys.modules if m.startswith('sandbox.')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
