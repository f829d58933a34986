"""FranceConnect in process (`sandbox.rules.franceconnect`, `sandbox.serve.franceconnect`): the identity of
an introspection, each civility expression, the session's usability and user (spec §5). Written out.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sandbox.load.repository import Case
from sandbox.rules.franceconnect import (
    DEFAULT_MAPPING,
    EXPRESSIONS,
    Identity,
    check_mapping,
    civility_parameters,
)
from sandbox.rules.tokens import FRANCE_CONNECT_UID, User
from sandbox.serve.franceconnect import FranceConnectSession

INTROSPECTION = {
    "active": True,
    "scope": "openid cnous_statut_etudiant mesri_identite cnaf_quotient_familial",
    "family_name": "MARTIN",
    "given_name": "Camille Louise",
    "birthdate": "1988-03-21",
    "gender": "female",
    "birthplace": "75056",
    "birthcountry": "99100",
    "exp": 2000,
}
MARTIN = Identity("MARTIN", "Camille Louise", "1988-03-21", "female", "75056", "99100")


def case(payload: Any) -> Case:
    return Case("france_connect", "x.yaml", {}, 200, payload, None, None, None, "")


def test_an_identity_keeps_only_text_fields() -> None:
    assert Identity.from_introspection(INTROSPECTION) == MARTIN
    odd = Identity.from_introspection({"family_name": 3, "given_name": None})
    assert odd == Identity("", "", "", "", "", "")


def test_every_expression_of_a_full_identity() -> None:
    assert {name: expression(MARTIN) for name, expression in EXPRESSIONS.items()} == {
        "family_name": "MARTIN",
        "given_name": "Camille Louise",
        "given_names": ["Camille", "Louise"],
        "first_given_name": "Camille",
        "given_names_comma": "Camille, Louise",
        "birth_year": 1988,
        "birth_month": 3,
        "birth_day": 21,
        "birthdate": "1988-03-21",
        "birthdate_fr": "21/03/1988",
        "gender": "female",
        "gender_letter": "F",
        "birthplace": "75056",
        "birthplace_or_empty": "75056",
        "birthcountry": "99100",
    }


def test_every_expression_of_an_empty_identity() -> None:
    empty = Identity("", "", "", "male", "", "")
    assert {name: expression(empty) for name, expression in EXPRESSIONS.items()} == {
        "family_name": None,
        "given_name": None,
        "given_names": None,
        "first_given_name": None,
        "given_names_comma": None,
        "birth_year": None,
        "birth_month": None,
        "birth_day": None,
        "birthdate": None,
        "birthdate_fr": None,
        "gender": "male",
        "gender_letter": "M",
        "birthplace": None,
        "birthplace_or_empty": "",
        "birthcountry": None,
    }


def test_a_partial_birthdate() -> None:
    partial = dataclasses.replace(MARTIN, birthdate="1988-xx")
    assert EXPRESSIONS["birth_year"](partial) == 1988
    assert EXPRESSIONS["birth_month"](partial) is None and EXPRESSIONS["birth_day"](partial) is None
    assert EXPRESSIONS["birthdate_fr"](partial) == "1988-xx"


def test_the_default_civility_parameters_leave_absent_fields_out() -> None:
    assert civility_parameters(MARTIN, DEFAULT_MAPPING) == {
        "nomNaissance": "MARTIN",
        "prenoms": ["Camille", "Louise"],
        "anneeDateNaissance": 1988,
        "moisDateNaissance": 3,
        "jourDateNaissance": 21,
        "sexeEtatCivil": "F",
        "codeCogInseeCommuneNaissance": "75056",
        "codeCogInseePaysNaissance": "99100",
    }
    no_place = dataclasses.replace(MARTIN, birthplace="")
    assert "codeCogInseeCommuneNaissance" not in civility_parameters(no_place, DEFAULT_MAPPING)


def test_an_unknown_identity_field_is_refused_with_the_known_ones() -> None:
    check_mapping({"a": "family_name"}, "here")
    with pytest.raises(ValueError) as refused:
        check_mapping({"a": "shoe_size", "b": "age", "c": "gender"}, "rules.yaml")
    assert str(refused.value) == (
        f"rules.yaml: unknown FranceConnect identity field(s) ['age', 'shoe_size'] (one of {sorted(EXPRESSIONS)})"
    )


def test_a_session_reads_the_introspection_of_its_case() -> None:
    source = case({"token_introspection": INTROSPECTION})
    session = FranceConnectSession.from_case(source)
    assert session.case is source
    assert session.introspection == INTROSPECTION and session.identity() == MARTIN
    assert FranceConnectSession.from_case(case(["x"])).introspection == {}
    assert FranceConnectSession.from_case(case({"token_introspection": "x"})).introspection == {}


def test_a_session_is_usable_unless_inactive_or_expired_when_expiry_is_checked() -> None:
    session = FranceConnectSession.from_case(case({"token_introspection": INTROSPECTION}))
    assert session.usable(1999.0, check_expiry=True) is True
    assert session.usable(2000.0, check_expiry=True) is True
    assert session.usable(2000.5, check_expiry=True) is False
    assert session.usable(9999.0, check_expiry=False) is True
    inactive = FranceConnectSession.from_case(case({"token_introspection": {**INTROSPECTION, "active": False}}))
    assert inactive.usable(0.0, check_expiry=False) is False
    no_active = FranceConnectSession.from_case(case({"token_introspection": {"exp": "soon"}}))
    assert no_active.usable(9999.0, check_expiry=True) is True


def test_the_session_user_drops_identity_scopes_on_v3() -> None:
    session = FranceConnectSession.from_case(case({"token_introspection": INTROSPECTION}))
    everything = frozenset({"openid", "cnous_statut_etudiant", "mesri_identite", "cnaf_quotient_familial"})
    assert session.user(v2=True) == User(FRANCE_CONNECT_UID, FRANCE_CONNECT_UID, everything, None)
    assert session.user(v2=False).scopes == everything - {"mesri_identite"}
    no_scope = FranceConnectSession.from_case(case({"token_introspection": {"scope": 3}}))
    assert no_scope.user(v2=True).scopes == frozenset()
