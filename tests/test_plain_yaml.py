"""`sandbox.load.plain_yaml` builds exactly what PyYAML's safe constructor builds, or declines.

Each text is built both ways from the same libyaml node tree: `plain_yaml.build` (or `NotPlain`)
and PyYAML's `construct_document`, with the duplicate keys the loader reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sandbox.load import plain_yaml
from sandbox.load.repository_files import _Loader, load_yaml
from tests.conftest import corpus_path

Built = tuple[str, list[tuple[int, str]]]  # repr of the document (NaN equals itself there), duplicates


def both_ways(text: str) -> tuple[Built | None, Built]:
    """(plain_yaml's result, or None when it declines), PyYAML's result."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        assert node is not None
        duplicates: list[tuple[int, str]] = []
        try:
            plain: Built | None = (repr(plain_yaml.build(loader, node, duplicates)), sorted(duplicates))
        except plain_yaml.NotPlain:
            plain = None
    finally:
        loader.dispose()
    loader = _Loader(text)
    try:
        usual = (repr(loader.construct_document(loader.get_single_node())), sorted(loader.duplicates))
    finally:
        loader.dispose()
    return plain, usual


SCALARS = """
strings: [plain, 'single', "double\\ttab", "é", ""]
booleans: [yes, No, ON, off, true, False, y, n]
integers: [0, -17, +3, 1_000, 0x1F, 0o17, 017, 0b101, 1:20:30]
floats: [1.5, -.5, 1e3, 6.8523015e+5, .inf, -.Inf, .NaN, 1_000.5, 1:20.5]
nulls: [~, null, Null, ]
dates: [2023-01-31, 2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10 -5]
binary: !!binary aGVsbG8=
quoted: ["2023-01-31", '0x1F', "yes", "~"]
numbers as keys: {1: one, 2.5: two, true: three, ~: four, 2023-01-31: five}
block: |
  line one
  line two
folded: >
  folded
  text
nested: {a: [1, {b: [2, [3, {c: d}]]}]}
"""


def test_every_kind_of_plain_scalar_is_built_as_pyyaml_builds_it() -> None:
    plain, usual = both_ways(SCALARS)
    assert plain == usual
    assert "datetime.date(2023, 1, 31)" in usual[0] and "b'hello'" in usual[0]  # the text exercises them


def test_duplicate_keys_are_reported_with_their_lines_and_the_last_value_wins() -> None:
    text = "a: 1\nb:\n  c: 1\n  c: 2\n  d: 3\na: 4\n"
    plain, usual = both_ways(text)
    assert plain == usual == (repr({"a": 4, "b": {"c": 2, "d": 3}}), [(4, "c"), (6, "a")])


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n",  # a merge key (with an anchor: never tried plain)
        "other:\n  <<: {x: 1}\n  y: 2\n",  # a merge key without an anchor
        "= : value\n",  # the value key
        "s: !!set {a, b}\n",
        "o: !!omap [a: 1, b: 2]\n",
        "p: !!pairs [a: 1, a: 2]\n",
    ],
)
def test_what_needs_the_full_constructor_is_declined_and_loads_as_before(text: str) -> None:
    plain, usual = both_ways(text)
    assert plain is None
    assert repr(load_yaml(text).data) == usual[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("? [a, b]\n: value\n", "found unhashable key"),
        ("v: !custom 1\n", "could not determine a constructor for the tag '!custom'"),
        ("v: !!python/object:os.system {}\n", "could not determine a constructor"),
    ],
)
def test_what_pyyaml_refuses_is_refused_with_pyyaml_s_own_error(text: str, message: str) -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match=message.replace("(", r"\(")):
        load_yaml(text)


def yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


@pytest.mark.parametrize("name", ["siade_staging_data", "apistration_mocks"])
def test_every_yaml_file_of_the_real_corpora_is_built_as_pyyaml_builds_it(name: str) -> None:
    root = corpus_path(name)
    files = yaml_files(root)
    built = declined = 0
    different: list[str] = []
    for path in files:
        try:
            plain, usual = both_ways(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue  # a broken file: refused the same way by both (parsed before either builds)
        if plain is None:
            declined += 1
        elif plain != usual:
            different.append(str(path.relative_to(root)))
        else:
            built += 1
    print(f"{name}: {len(files)} YAML files, {built} built plain, {declined} declined")
    assert different == []
    assert built > 700  # the cases and the OpenAPI documents: plain YAML, almost all of them
