"""The company check, against API Entreprise as the sandbox serves it (real HTTP, one server per session)."""

from __future__ import annotations

import pytest
from eligibility import ApiGouv, Company, NotFound, company_may_apply

from sandbox.pytest_plugin import SandboxServer

UNITES_LEGALES = "api_entreprise_v3_insee_unites_legales"


def test_an_active_company_may_apply(api: ApiGouv) -> None:
    assert api.company("912345675") == Company("912345675", "BOULANGERIE DES TROIS MOULINS", active=True)
    assert company_may_apply(api, "912345675").accepted


def test_a_ceased_company_may_not(api: ApiGouv) -> None:
    decision = company_may_apply(api, "359184272")
    assert not decision.accepted and decision.reason == "TRANSPORTS DUVAL ET FILS has ceased trading"


def test_an_unknown_siren_is_refused(api: ApiGouv, sandbox_server: SandboxServer) -> None:
    # pick the repository's not-found case instead of hard-coding an identifier
    (not_found,) = sandbox_server.cases(UNITES_LEGALES, status=404)
    with pytest.raises(NotFound) as error:
        api.company(not_found.params["siren"])
    assert error.value.code == "01003"
    assert company_may_apply(api, not_found.params["siren"]).reason == "unknown SIREN"


def test_a_provider_outage_asks_to_try_again_later(api: ApiGouv, sandbox_server: SandboxServer) -> None:
    (outage,) = sandbox_server.cases(UNITES_LEGALES, status=502)
    decision = company_may_apply(api, outage.params["siren"])
    assert not decision.accepted and "try again later" in decision.reason


def test_every_documented_company_gets_a_decision(api: ApiGouv, sandbox_server: SandboxServer) -> None:
    for case in sandbox_server.cases(UNITES_LEGALES):
        decision = company_may_apply(api, case.params["siren"])
        assert decision.accepted == (case.status == 200 and case.payload["data"]["etat_administratif"] == "A")


@pytest.mark.sandbox(match="staging")
class TestUnderRealStagingLookup:
    """The same checks with real staging's lookup rules (`match="staging"`): a second sandbox."""

    def test_an_active_company_may_apply(self, api: ApiGouv, sandbox_server: SandboxServer) -> None:
        assert sandbox_server.snapshot.mode.value == "staging"
        assert company_may_apply(api, "912345675").accepted
