"""API tokens in process (`sandbox.rules.tokens`): where a token is read, each verification branch and
the `X-Sandbox-Auth` reason it gives, expiry, scopes per operation. Expectations written out.
"""

from __future__ import annotations

import time

import jwt
import pytest

from sandbox.rules.tokens import (
    DEFAULT_SECRET,
    INTERNAL_JTI,
    Denial,
    Refusal,
    TokenSources,
    TokenVerifier,
    User,
    authenticate,
    bearer_token,
    configured_secrets,
    expired,
    granted,
    lacking,
    mint,
    scopes_by_operation,
)

SECRET = "unit-test-secret-of-at-least-32-bytes"
OTHER = "another-secret-of-at-least-32-bytes!!"
UID = "12345678-1234-1234-1234-123456789abc"
HINT_MISSING = "no token: send Authorization: Bearer <token> (X-Api-Key: <token> on /api/v2), or ?token=<token>"
NOT_A_JWT = "not a JWT (three base64url parts: header, claims, signature)"


def signed(claims: dict[str, object], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def claims(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"uid": UID, "jti": INTERNAL_JTI, "scopes": ["a", "b"], "iat": 1000, "exp": 2000}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def refusal(verdict: User | Refusal) -> tuple[str, str]:
    assert isinstance(verdict, Refusal), verdict
    return verdict.reason, verdict.hint


def test_the_default_secret_and_the_internal_jti() -> None:
    assert DEFAULT_SECRET == "sandbox-staging-secret-not-for-production"
    assert INTERNAL_JTI == "00000000-0000-0000-0000-000000000000"


def test_configured_secrets_come_from_the_environment_then_the_command_line() -> None:
    assert configured_secrets(environ={}) == (DEFAULT_SECRET,)
    assert configured_secrets(environ={"SANDBOX_JWT_SECRET": " a , ,b "}) == ("a", "b")
    assert configured_secrets(["c", ""], environ={"SANDBOX_JWT_SECRET": "a"}) == ("a", "c")
    assert configured_secrets(["c"], environ={"OTHER": "x"}) == ("c",)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("Bearer  abc", " abc"),
        ("bearer abc", None),
        ("Bearer ", None),
        ("Bearer", None),
        ("Token abc", None),
        ("Bearer a\nb", None),
        ("", None),
        (None, None),
    ],
)
def test_the_bearer_form_is_strict(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_token_sources_of_a_request() -> None:
    sources = TokenSources.of_request({"authorization": "Bearer b", "x-api-key": "k"}, {"token": "q"})
    assert sources == TokenSources("b", "k", "q", authorization_sent=True)
    assert sources.first_present == "b" and sources.rate_limit_token == "b"
    assert TokenSources.of_request({}, {"token": ["q"]}) == TokenSources(None, None, None, False)
    other_form = TokenSources.of_request({"authorization": "Basic x", "x-api-key": "k"}, {})
    assert other_form == TokenSources(None, "k", None, True)
    assert other_form.first_present == "k" and other_form.rate_limit_token is None


@pytest.mark.parametrize(
    ("sources", "first", "counted"),
    [
        (TokenSources(None, "k", "q"), "k", "k"),
        (TokenSources(None, None, "q"), "q", "q"),
        (TokenSources(None, "", "q"), "", None),
        (TokenSources(None, None, " "), " ", None),
        (TokenSources(None, None, None), None, None),
        (TokenSources("b", "k", None, authorization_sent=True), "b", "b"),
        (TokenSources(None, "k", "q", authorization_sent=True), "k", "q"),
    ],
)
def test_which_token_is_decoded_and_which_is_counted(
    sources: TokenSources, first: str | None, counted: str | None
) -> None:
    assert sources.first_present == first
    assert sources.rate_limit_token == counted


def test_a_good_token_gives_its_user_and_is_remembered() -> None:
    verifier = TokenVerifier([SECRET])
    token = signed(claims(scopes=["b", "a", 3]))
    user = verifier.check(token)
    assert user == User(UID, INTERNAL_JTI, frozenset({"a", "b"}), 2000.0, ("b", "a"))
    assert verifier.cache.get(token) == user
    assert verifier.check(token) is user and verifier.user(token) is user


def test_a_token_signed_with_a_second_secret_verifies() -> None:
    token = signed(claims(), OTHER)
    assert isinstance(TokenVerifier([SECRET, OTHER]).check(token), User)
    assert refusal(TokenVerifier([SECRET]).check(token)) == (
        "bad-signature",
        "the signature matches no secret of this sandbox (SANDBOX_JWT_SECRET, --jwt-secret) "
        "and the token is not in tokens/",
    )


def test_a_refused_token_is_not_remembered() -> None:
    verifier = TokenVerifier([SECRET])
    token = signed(claims(), OTHER)
    assert verifier.user(token) is None
    assert verifier.cache.get(token) is None


def test_the_signing_secret_is_the_first_configured_one() -> None:
    assert TokenVerifier([SECRET, OTHER]).signing_secret == SECRET
    assert TokenVerifier([]).signing_secret == DEFAULT_SECRET


def test_scopes_and_exp_read_from_odd_claims() -> None:
    verifier = TokenVerifier([SECRET])
    user = verifier.check(signed(claims(scopes="a", exp=True)))
    assert isinstance(user, User) and user.scopes == frozenset() and user.exp is None and user.scope_list == ()
    user = verifier.check(signed(claims(exp=None)))
    assert isinstance(user, User) and user.exp is None
    user = verifier.check(signed(claims(exp=2000.5)))
    assert isinstance(user, User) and user.exp == 2000.5


@pytest.mark.parametrize(
    ("changes", "reason", "hint"),
    [
        ({"uid": "NOT-A-UUID"}, "malformed", "the claims uid and jti must be lower-case UUIDs"),
        ({"uid": UID.upper()}, "malformed", "the claims uid and jti must be lower-case UUIDs"),
        ({"uid": None}, "malformed", "the claims uid and jti must be lower-case UUIDs"),
        ({"jti": None}, "malformed", "the claims uid and jti must be lower-case UUIDs"),
        ({"uid": 7}, "malformed", "the claims uid and jti must be lower-case UUIDs"),
        ({"jti": "x"}, "malformed", "the claims uid and jti must be lower-case UUIDs"),
        ({"iat": "1000"}, "malformed", "the claim iat must be a number (seconds since 1970)"),
        ({"iat": True}, "malformed", "the claim iat must be a number (seconds since 1970)"),
        ({"iat": None}, "malformed", "the claim iat must be a number (seconds since 1970)"),
        (
            {"jti": UID},
            "unknown-jti",
            "jti is not the internal all-zero id: real staging looks other tokens up in its database",
        ),
        ({"nbf": 4102444800}, "not-yet-valid", "the token is valid from 2100-01-01T00:00:00Z (its nbf claim)"),
    ],
)
def test_each_refused_claim_says_why(changes: dict[str, object], reason: str, hint: str) -> None:
    assert refusal(TokenVerifier([SECRET]).check(signed(claims(**changes)))) == (reason, hint)


def test_iat_may_be_a_float() -> None:
    assert isinstance(TokenVerifier([SECRET]).check(signed(claims(iat=1000.5))), User)


def test_a_token_that_is_no_jwt_or_of_another_algorithm_is_malformed() -> None:
    verifier = TokenVerifier([SECRET])
    assert refusal(verifier.check("abc")) == ("malformed", NOT_A_JWT)
    assert refusal(verifier.check(signed(claims(), SECRET + "x" * 40, "HS512"))) == (
        "malformed",
        "the token's alg must be HS256",
    )


def test_a_listed_token_is_accepted_unsigned_and_with_any_jti() -> None:
    listed = signed(claims(jti=UID), "a-secret-nobody-configured-32-bytes!")
    verifier = TokenVerifier([SECRET], accepted=[listed, "not-a-jwt"])
    user = verifier.check(listed)
    assert isinstance(user, User) and user.jti == UID
    assert refusal(verifier.check("not-a-jwt")) == ("malformed", NOT_A_JWT)
    assert refusal(TokenVerifier([SECRET]).check(listed))[0] == "bad-signature"


def test_why_a_request_got_no_user() -> None:
    verifier = TokenVerifier([SECRET])
    assert refusal(verifier.refusal(None)) == ("missing", HINT_MISSING)
    assert refusal(verifier.refusal(None, "Token abc")) == (
        "malformed",
        "the Authorization header must be 'Bearer <token>' (one space, case-sensitive)",
    )
    assert refusal(verifier.refusal(None, "Bearer ")) == (
        "malformed",
        "the Authorization header must be 'Bearer <token>' (one space, case-sensitive)",
    )
    assert refusal(verifier.refusal(None, "")) == ("missing", HINT_MISSING)
    assert refusal(verifier.refusal("abc")) == ("malformed", NOT_A_JWT)
    assert refusal(verifier.refusal(signed(claims()))) == ("missing", HINT_MISSING)
    assert Refusal.of("missing").header == f"missing; {HINT_MISSING}"


def test_the_controller_tries_the_query_token_then_the_bearer_once_more() -> None:
    verifier = TokenVerifier([SECRET])
    good, bad = signed(claims()), "bad"
    assert verifier.resolve(TokenSources(bad, None, good, True)) == (verifier.user(good), bad)
    assert verifier.resolve(TokenSources(bad, good, None, True)) == (None, bad)
    assert verifier.resolve(TokenSources(None, bad, good)) == (verifier.user(good), bad)
    assert verifier.resolve(TokenSources(good, bad, None, True))[0] == verifier.user(good)
    assert verifier.resolve(TokenSources(None, None, None)) == (None, None)
    assert verifier.resolve(TokenSources(None, bad, "")) == (None, bad)


def test_what_a_request_is_counted_as() -> None:
    verifier = TokenVerifier([SECRET])
    good = signed(claims())
    assert verifier.counted_as(TokenSources(good, None, None, True)) == (INTERNAL_JTI, good)
    assert verifier.counted_as(TokenSources("bad", None, good, True)) == (None, "bad")
    assert verifier.counted_as(TokenSources(None, None, None)) == (None, None)
    assert verifier.middleware_user(TokenSources(None, "", good)) is None


def test_expiry_is_checked_on_every_use_to_the_second() -> None:
    user = User(UID, INTERNAL_JTI, frozenset(), 2000.0)
    assert authenticate(None, 0) is Denial.INVALID
    assert authenticate(user, 1999.0) is None
    assert authenticate(user, 2000.0) is None
    assert authenticate(user, 2000.5) is Denial.EXPIRED
    assert authenticate(User(UID, INTERNAL_JTI, frozenset(), None), 1e12) is None
    assert (Denial.INVALID.value, Denial.EXPIRED.value) == ("00101", "00103")


def test_the_expired_and_lacking_refusals() -> None:
    assert refusal(expired(User(UID, INTERNAL_JTI, frozenset(), 86400.0))) == (
        "expired",
        "the token expired at 1970-01-02T00:00:00Z (its exp claim): mint another one",
    )
    assert refusal(expired(User(UID, INTERNAL_JTI, frozenset(), 1e20))) == (
        "expired",
        "the token expired at a date (its exp claim): mint another one",
    )
    assert refusal(expired(User(UID, INTERNAL_JTI, frozenset(), None))) == (
        "expired",
        "the token expired at a date (its exp claim): mint another one",
    )
    hint = "the token has none of the scopes this operation accepts"
    assert refusal(lacking(frozenset({"b", "a"}))) == ("insufficient-scopes", f"{hint}: a, b")
    assert refusal(lacking(None)) == ("insufficient-scopes", hint)
    assert refusal(lacking(frozenset())) == ("insufficient-scopes", hint)


def test_granted_needs_one_required_scope() -> None:
    assert granted(frozenset({"a"}), frozenset({"a", "b"})) is True
    assert granted(frozenset({"c"}), frozenset({"a", "b"})) is False
    assert granted(frozenset(), None) is True  # no scope list: open to any valid token
    assert granted(frozenset({"c"}), frozenset()) is True


def test_mint_writes_the_staging_claims() -> None:
    token = mint(SECRET, ["s1", "s2"], now=1000)
    assert jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False}) == {
        "uid": INTERNAL_JTI,
        "jti": INTERNAL_JTI,
        "scopes": ["s1", "s2"],
        "sub": "staging",
        "iat": 1000,
        "version": "1.0",
        "exp": 1000 + 10 * 365 * 86400,
    }
    forever = jwt.decode(mint(SECRET, [], expires_in=None, uid=UID, now=5), SECRET, algorithms=["HS256"])
    assert forever == {"uid": UID, "jti": INTERNAL_JTI, "scopes": [], "sub": "staging", "iat": 5, "version": "1.0"}
    assert (
        jwt.decode(
            mint(SECRET, [], expires_in=10.7, now=5), SECRET, algorithms=["HS256"], options={"verify_exp": False}
        )["exp"]
        == 15
    )


def test_scopes_by_operation_reads_the_controller_paths() -> None:
    authorizations = {
        "api_particulier/v3_and_more/cnav/quotient_familial_with_civility": ["qf"],
        "api_particulier/v2/cnav/quotient_familial": ["qf2"],
        "api_entreprise/v9/insee/x": ["never"],
        "api_entreprise/v2": ["short"],
    }
    found = scopes_by_operation(
        authorizations,
        [
            "api_particulier_v3_cnav_quotient_familial_with_civility",
            "api_particulier_v5_cnav_quotient_familial_with_civility",
            "api_particulier_v2_cnav_quotient_familial",
            "api_entreprise_v3_insee_x",
            "not_an_operation",
        ],
    )
    assert found == {
        "api_particulier_v3_cnav_quotient_familial_with_civility": frozenset({"qf"}),
        "api_particulier_v5_cnav_quotient_familial_with_civility": frozenset({"qf"}),
        "api_particulier_v2_cnav_quotient_familial": frozenset({"qf2"}),
        "api_entreprise_v3_insee_x": None,
        "not_an_operation": None,
    }
    assert scopes_by_operation(None, ["api_entreprise_v3_insee_x"]) == {"api_entreprise_v3_insee_x": None}


def test_configured_secrets_read_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_JWT_SECRET", "from-env")
    assert configured_secrets() == ("from-env",)


def test_the_verified_token_cache_is_bounded_in_entries_and_bytes() -> None:
    verifier = TokenVerifier([SECRET])
    assert (verifier.cache.max_entries, verifier.cache.max_bytes) == (4096, 8 * 1024 * 1024)
    token = signed(claims())
    verifier.check(token)
    assert verifier.cache.bytes == 3 * len(token) + 256  # three times the token, and the entry's overhead


def test_a_well_formed_bearer_header_is_no_malformed_refusal() -> None:
    assert refusal(TokenVerifier([SECRET]).refusal(None, "Bearer abc")) == ("missing", HINT_MISSING)


def test_an_audience_claim_is_not_checked() -> None:
    assert isinstance(TokenVerifier([SECRET]).check(signed(claims(aud="someone"))), User)


def test_hint_dates_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert refusal(expired(User(UID, INTERNAL_JTI, frozenset(), 86400.0)))[1] == (
            "the token expired at 1970-01-02T00:00:00Z (its exp claim): mint another one"
        )
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_controller_path_of_three_parts_has_scopes() -> None:
    found = scopes_by_operation({"api_entreprise/v3_and_more/ping": ["p"]}, ["api_entreprise_v3_ping"])
    assert found == {"api_entreprise_v3_ping": frozenset({"p"})}
