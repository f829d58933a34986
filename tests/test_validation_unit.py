"""`sandbox.rules.validation` in process: the errors a malformed rule raises, and the table's per
operation entries. Expected texts written out.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.rules.validation import ValidationRuleError, build_checks, parse_validation_rules


def _rules(checks: Any) -> list[Any]:
    return [{"operations": ["api_entreprise_v3_demo"], "checks": checks}]


@pytest.mark.parametrize("check", ["year", ["year"], {"param": "year"}, {"kind": 3}])
def test_a_check_must_be_a_mapping_with_a_kind(check: Any) -> None:
    with pytest.raises(ValidationRuleError, match=r": a check is a mapping with a `kind`$"):
        parse_validation_rules(_rules([check]), "test.yaml")


def test_checks_must_be_a_list() -> None:
    with pytest.raises(ValidationRuleError, match=r": `checks` must be a list$"):
        parse_validation_rules(_rules({"kind": "year"}), "test.yaml")


def test_a_rule_that_uses_an_unknown_error_code_names_its_check() -> None:
    check = {"kind": "year", "param": "annee", "code": "99999", "range_code": "00315"}
    rules = parse_validation_rules(_rules([check]), "test.yaml")
    expected = r"^rule api_entreprise_v3_demo: YearCheck uses unknown error code\(s\) \['99999'\]$"
    with pytest.raises(ValidationRuleError, match=expected):
        build_checks(rules)


def test_the_table_gives_each_operation_its_own_entry_once() -> None:
    table = build_checks()
    liasses = table.for_operation("api_entreprise_v3_dgfip_liasses_fiscales")
    assert liasses.operation_id == "api_entreprise_v3_dgfip_liasses_fiscales" and not liasses.is_empty
    assert table.for_operation("api_entreprise_v3_dgfip_liasses_fiscales") is liasses
    unknown = table.for_operation("api_entreprise_v3_nothing")
    assert unknown.operation_id == "api_entreprise_v3_nothing" and unknown.is_empty
