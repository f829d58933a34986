"""`sandbox lint`: agreement with the reference model, replay of every case it calls valid,
seeded defects (one per rule), output formats, and the embedded repository.

The real corpora are read from ../shared/fixtures (skipped when absent) and copied to a
temporary folder before any modification.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
import pytest
import yaml

from sandbox.cli.lint import main
from sandbox.load.repository import NOT_FOUND_FILE
from sandbox.load.snapshot import build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.serve.local_server import serve_in_thread
from sandbox.serve.pipeline import Services
from sandbox.tools.lint import REACHABILITY_RULES, Finding, LintReport, lint_repository, rule_ids
from sandbox.tools.placeholders import PLACEHOLDER_DESCRIPTION, PLACEHOLDER_TITLE
from sandbox.tools.reaching import france_connect_request, query_pairs
from sandbox.web import create_app
from tests.conftest import CORPORA, PINNED_TODAY, ROOT, corpus_path
from tests.test_replay import MODEL_GAPS, MODEL_TODAY, _load_model, replay

TODAY = MODEL_TODAY  # 2026-04-28, the date of the reference model's figures


@cache
def _corpus_report(name: str, mode: MatchMode) -> LintReport:
    """The lint report of a public corpus at the model's date (computed once per session)."""
    return lint_repository(corpus_path(name), mode=mode, today=TODAY)


def _case_files(root: Path) -> list[tuple[str, str, Path]]:
    found = []
    for folder in sorted((root / "payloads").iterdir()):
        if not folder.is_dir() or folder.name == "france_connect":
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix in (".yaml", ".yml"):
                found.append((folder.name, path.name, path))
    return found


def _by_file(report: LintReport) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        grouped[finding.file].append(finding)
    return grouped


# ---------------------------------------------------------------------------
# staging mode: the reference model of real staging
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", CORPORA)
def test_staging_mode_agrees_with_the_reference_model(name: str) -> None:
    """For every case: model reasons non-empty ⇔ lint reports an unreachable/invalid finding."""
    root = corpus_path(name)
    model = _load_model()
    report = _corpus_report(name, MatchMode.STAGING)
    findings = _by_file(report)
    tally: Counter[str] = Counter()
    disagreements: list[str] = []
    gaps: list[str] = []
    for folder, file, path in _case_files(root):
        params = yaml.safe_load(path.read_text(encoding="utf-8")).get("params")
        reasons = model.check_case(folder, params, TODAY)
        rel = f"payloads/{folder}/{file}"
        ours = [f for f in findings[rel] if f.rule in REACHABILITY_RULES]
        for finding in ours:
            tally[finding.rule] += 1
        if bool(reasons) == bool(ours):
            tally["agree (unreachable)" if reasons else "agree (reachable)"] += 1
            continue
        codes = {f.message.split("(")[1].split(":")[0] for f in ours if f.rule in ("server-validation", "date-window")}
        if not reasons and codes and codes <= set(MODEL_GAPS):
            gaps.append(f"{rel}: {[f.message for f in ours]}")  # a §3.5 rule the model does not check
            continue
        disagreements.append(f"{rel}: model {reasons}, lint {[(f.rule, f.message) for f in findings[rel]]}")
    print(f"\n[{name}] {dict(tally)}; model gaps: {len(gaps)}; disagreements: {len(disagreements)}")
    print("\n".join(f"  gap: {line}" for line in gaps))
    assert disagreements == []
    assert tally["agree (unreachable)"] == 117  # §10.1: 117 of 795 (830 in apistration_mocks)
    assert len(gaps) == 3


def test_staging_mode_reports_the_unreachable_categories_of_the_spec() -> None:
    """§10.1, siade_staging_data at 2026-04-28: each cause with its count."""
    report = _corpus_report("siade_staging_data", MatchMode.STAGING)
    unreachable = [f for f in report.findings if f.rule == "unreachable"]

    def count(text: str) -> int:
        return sum(text in f.message for f in unreachable)

    # server-added keys: 26 cases in 10 operations
    injected = {f.file for f in unreachable if "the server adds" in f.message}
    assert len(injected) == 26
    assert count("`limit`") == 2 and count("`api_version`") == 4 and count("`token_id`") == 2
    # identifiers that fail validation: 16 cases, SIREN and SIRET
    identifiers = [f for f in report.findings if f.rule == "invalid-identifier"]
    assert len({f.file for f in identifiers if f.message.startswith(("`siren`", "`siret`"))}) == 16
    assert len({f.file for f in identifiers if f.message.startswith("`ine`")}) == 3  # v2 etudiants (2), CNOUS INE
    # query params dropped by the server
    assert count("never reads `nature_effectif`") == 2
    assert count("never reads `profondeur`") == 1
    assert count("never reads `year`") == 3
    # route gone: 22 cases
    assert sum(f.rule == "gone-route" for f in report.findings) == 22
    # FranceConnect fixtures with nomUsage: 16
    assert sum("`nomUsage`" in f.message for f in unreachable if "_with_france_connect/" in f.file) == 16
    # commune with a foreign country (or no valid country): 4
    assert count("is forwarded only when") >= 3
    # scalar where an array is expected
    assert sum("`prenoms` is read as a list" in f.message for f in unreachable if "cnous_etudiant" in f.file) == 2
    # DSNJ age window at 2026-04-28: 9 cases
    dsnj = [f for f in report.findings if f.rule == "date-window" and "39400" in f.message]
    assert len(dsnj) == 9
    # Particulier folders without 404.yaml: 3
    assert sum(f.rule == "missing-not-found-case" for f in report.findings) == 3
    # typos are named, with a suggestion
    typos = [f for f in report.findings if f.rule == "unknown-parameter" and "nomNaissange" in f.message]
    assert len(typos) == 2 and all("did you mean `nomNaissance`" in f.message for f in typos)


# ---------------------------------------------------------------------------
# documented mode: every case lint calls valid is answered exactly
# ---------------------------------------------------------------------------


@dataclass
class _Replayed:
    cases: int = 0
    valid: int = 0
    answered: int = 0


def _france_connect_replay(
    base_url: str, path: str, token: str, query: list[tuple[str, str]] | None = None
) -> tuple[int, object, str | None, str | None]:
    """A FranceConnect request: the token, the recipient, and the declared query parameters of the case."""
    request = france_connect_request(path, token)
    params = httpx.QueryParams([*request.query, *(query or [])])
    response = httpx.get(base_url + request.path, params=params, headers=dict(request.headers), timeout=30.0)
    return (
        response.status_code,
        response.json(),
        response.headers.get("x-sandbox-case"),
        response.headers.get("x-sandbox-fallback"),
    )


@pytest.mark.parametrize("mode", list(MatchMode))
@pytest.mark.parametrize("name", CORPORA)
def test_every_case_lint_calls_valid_is_answered_exactly(name: str, mode: MatchMode) -> None:
    """Replay over HTTP every case lint reports no error for: each is answered with its status and JSON."""
    root = corpus_path(name)
    report = _corpus_report(name, mode)
    errors = {f.file for f in report.errors}
    snapshot = build_snapshot(root, mode)
    token = (root / "tokens" / "default").read_text().strip()
    tally = _Replayed()
    failures: list[str] = []
    for outcome in replay(snapshot, token, TODAY):
        case = outcome.case
        tally.cases += 1
        if case.id in report.france_connect_reach or case.source in errors:
            continue
        tally.valid += 1
        if outcome.served:
            tally.answered += 1
        else:
            failures.append(f"{case.id}: lint says valid, {outcome.detail}")
    services = Services(fixed_today=TODAY, check_scopes=False)
    with serve_in_thread(create_app(snapshot, services)) as base_url:
        for case_id, tokens in sorted(report.france_connect_reach.items()):
            folder, file = case_id.split("/")
            if f"payloads/{case_id}" in errors:
                continue
            table = snapshot.tables[folder]
            case = next(c for c in table.cases if c.file == file)
            operation = table.operation
            identity = table.identity or {}
            query = query_pairs({k: v for k, v in case.params.items() if k in table.declared and k not in identity})
            tally.valid += 1
            if tokens:
                status, body, served, _ = _france_connect_replay(base_url, operation.path, tokens[0], query)
                ok = served == case.id
            else:  # a 404.yaml no token has: it is the answer of every token whose identity misses
                assert file == NOT_FOUND_FILE, case_id
                ok, status, body, served = False, 0, None, None
                for known in sorted(snapshot.france_connect):
                    status, body, served, fallback = _france_connect_replay(base_url, operation.path, known, query)
                    if fallback == case.id:
                        ok = True
                        break
            if ok and status == case.status and body == case.payload:
                tally.answered += 1
            else:
                failures.append(f"{case_id}: lint says valid (tokens {tokens}), got {status} from {served}")
    print(
        f"\n[{name}, {mode.value}] cases {tally.cases}, lint-valid {tally.valid}, answered exactly {tally.answered}, "
        f"error findings {len(report.errors)}, disagreements {len(failures)}"
    )
    print("\n".join(f"  {line}" for line in failures))
    assert failures == []
    assert tally.valid > 550


# ---------------------------------------------------------------------------
# seeded defects: one per rule, each reported exactly once where it is
# ---------------------------------------------------------------------------

Key = tuple[str, int | None, str]


def _edit(root: Path, rel: str, change: Callable[[str], str]) -> str:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    changed = change(text)
    assert changed != text, rel
    path.write_text(changed, encoding="utf-8")
    return changed


def _line_of(text: str, fragment: str) -> int:
    for number, line in enumerate(text.split("\n"), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not found")


def _replace_line(fragment: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        lines = text.split("\n")
        index = next(i for i, line in enumerate(lines) if fragment in line)
        lines[index] = new
        return "\n".join(lines)

    return change


def _insert_after(fragment: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        lines = text.split("\n")
        index = next(i for i, line in enumerate(lines) if fragment in line)
        lines.insert(index + 1, new)
        return "\n".join(lines)

    return change


def _seed(root: Path) -> dict[Key, set[str]]:
    """Inject one defect per rule; returns each expected finding and the files it involves."""
    expected: dict[Key, set[str]] = {}
    P = "payloads/"

    def expect(rule: str, rel: str, line: int | None, *involved: str) -> None:
        expected[(rel, line, rule)] = {rel, *involved}

    # invalid-yaml: a value that opens a mapping where none may be
    rel = P + "api_entreprise_v3_insee_unites_legales/association.yaml"
    text = _edit(root, rel, _replace_line("status: 200", "status: : 200"))
    expect("invalid-yaml", rel, _line_of(text, "status: : 200"))

    # yaml-alias: an alias (the anchor alone would load)
    rel = P + "api_entreprise_v3_insee_etablissements/association.yaml"
    text = _edit(root, rel, lambda t: t.replace("description: '", "description: &desc '", 1))
    text = _edit(root, rel, _insert_after("description: &desc", "summary: *desc"))
    expect("yaml-alias", rel, _line_of(text, "summary: *desc"))

    # yaml-date: an unquoted date
    rel = P + "api_entreprise_v3_insee_sieges_unites_legales/personne_morale.yaml"
    text = _edit(root, rel, lambda t: t.replace("status: 200", "updated_on: 2024-01-31\nstatus: 200", 1))
    expect("yaml-date", rel, _line_of(text, "updated_on: 2024-01-31"))

    # payload-not-json: a stray word in the JSON
    rel = P + "api_entreprise_v3_infogreffe_extraits_rcs/200.yaml"
    text = _edit(root, rel, _insert_after("payload: |-", "  {oops"))
    expect("payload-not-json", rel, _line_of(text, "{oops"))

    # status-not-allowed: 401 is the server's own status
    rel = P + "api_entreprise_v3_european_commission_vies/404.yaml"
    text = _edit(root, rel, _replace_line("status: 404", "status: 401"))
    expect("status-not-allowed", rel, _line_of(text, "status: 401"))

    # missing-description
    rel = P + "api_entreprise_v3_fntp_carte_professionnelle_travaux_publics/200.yml"
    text = _edit(root, rel, lambda t: "\n".join(line for line in t.split("\n") if not line.startswith("description:")))
    expect("missing-description", rel, 1)

    # tracking-parameter (API Entreprise)
    rel = P + "api_entreprise_v3_opqibi_certifications_ingenierie/200.yml"
    text = _edit(root, rel, _insert_after("params:", "  recipient: '13002526500013'"))
    expect("tracking-parameter", rel, _line_of(text, "recipient:"))

    # unknown-parameter: a typo of an optional parameter
    rel = P + "api_particulier_v3_cnav_prime_activite_with_civility/200_non_beneficiaire.yaml"
    text = _edit(root, rel, _insert_after("params:", "  nomUsag: 'MARTIN'"))
    expect("unknown-parameter", rel, _line_of(text, "nomUsag:"))

    # parameter-schema: a value outside the OpenAPI enum (not validated by the server)
    rel = P + "api_entreprise_v3_gip_mds_effectifs_annuels_entreprise/200-boeth.yaml"
    text = _edit(root, rel, lambda t: t.replace("nature_effectif: boeth", "nature_effectif: bogus", 1))
    expect("parameter-schema", rel, _line_of(text, "nature_effectif: bogus"))

    # status-not-documented: allowed upstream, not in the operation's responses
    rel = P + "api_entreprise_v3_insee_successions/200.yaml"
    text = _edit(root, rel, _replace_line("status: 200", "status: 509"))
    expect("status-not-documented", rel, _line_of(text, "status: 509"))

    # payload-schema: a boolean turned into a string
    rel = P + "api_entreprise_v3_insee_unites_legales/personne_morale.yaml"
    text = _edit(
        root, rel, lambda t: t.replace('"diffusable_commercialement": true', '"diffusable_commercialement": "oui"')
    )
    expect("payload-schema", rel, _line_of(text, "payload: |-"))

    # duplicate-params: a copy of a case, later in path order, shadows it
    original = P + "api_entreprise_v3_cnetp_attestation_cotisations_conges_payes_chomage_intemperies/200.yaml"
    shutil.copy(root / original, root / original.replace("200.yaml", "zz-copie.yaml"))
    text = (root / original).read_text(encoding="utf-8")
    expect("duplicate-params", original, _line_of(text, "params:"), original.replace("200.yaml", "zz-copie.yaml"))

    # duplicate-key: same params but for upper/lower case
    original = P + "api_particulier_v3_france_travail_statut_with_identifiant/200.yaml"
    copy = original.replace("200.yaml", "zz-majuscules.yaml")
    source = (root / original).read_text(encoding="utf-8")
    (root / copy).write_text(source.replace("identifiant: 'default'", "identifiant: 'DEFAULT'", 1), encoding="utf-8")
    expect("duplicate-key", original, _line_of(source, "params:"), copy)

    # missing-not-found-case: an API Particulier folder loses its 404.yaml
    folder = P + "api_particulier_v3_sdh_statut_sportif_with_identifiant"
    (root / folder / "404.yaml").unlink()
    expect("missing-not-found-case", folder, None, folder + "/404.yaml")

    # folder-without-operation: a misspelt folder name
    misspelt = P + "api_entreprise_v3_insee_unite_legales"
    (root / misspelt).mkdir()
    shutil.copy(root / P / "api_entreprise_v3_rnm_entreprises_artisanales/200.yaml", root / misspelt / "200.yaml")
    expect("folder-without-operation", misspelt, None, misspelt + "/200.yaml")

    # invalid-identifier: a SIREN with a wrong checksum
    rel = P + "api_entreprise_v3_infogreffe_mandataires_sociaux/200.yaml"
    text = (root / rel).read_text(encoding="utf-8")
    siren = yaml.safe_load(text)["params"]["siren"]
    wrong = siren[:-1] + str((int(siren[-1]) + 1) % 10)
    text = _edit(root, rel, lambda t: t.replace(f"siren: '{siren}'", f"siren: '{wrong}'", 1))
    expect("invalid-identifier", rel, _line_of(text, f"siren: '{wrong}'"))

    # server-validation: a mandatory civility parameter removed
    rel = P + "api_particulier_v3_gip_mds_service_civique_with_civility/200-volontaire-actif.yaml"
    text = _edit(root, rel, lambda t: "\n".join(x for x in t.split("\n") if "jourDateNaissance" not in x))
    expect("server-validation", rel, _line_of(text, "params:"))

    # date-window: a quotient familial year outside [N-2, N]
    rel = P + "api_particulier_v3_cnav_quotient_familial_with_civility/200-famille-4_enfants.yaml"
    text = _edit(root, rel, _insert_after("params:", "  annee: 2020"))
    expect("date-window", rel, _line_of(text, "annee: 2020"))

    # date-window-expiring: valid today, not in 2027
    rel = P + "api_particulier_v2_cnav_quotient_familial_v2/200-identite-cas-etranger.yaml"
    text = _edit(root, rel, _insert_after("params:", "  annee: 2024"))
    expect("date-window-expiring", rel, _line_of(text, "annee: 2024"))

    # unreachable (documented mode): `recipient` is never part of the lookup
    rel = P + "api_particulier_v3_france_travail_indemnites_with_identifiant/200.yaml"
    text = _edit(root, rel, _insert_after("params:", "  recipient: '13002526500013'"))
    expect("unreachable", rel, _line_of(text, "params:"))

    # gone-route: a new case in the folder of a retired route
    rel = P + "api_particulier_v2_cnaf_quotient_familial/zz-nouveau.yaml"
    source_text = (root / P / "api_particulier_v2_cnaf_quotient_familial/200.yaml").read_text(encoding="utf-8")
    allocataire = yaml.safe_load(source_text)["params"]["numeroAllocataire"]
    (root / rel).write_text(source_text.replace(str(allocataire), "9999999", 1), encoding="utf-8")
    expect("gone-route", rel, _line_of(source_text, "params:"))

    # france-connect-no-token: an FC case whose identity no token has
    rel = P + "api_particulier_v3_mesri_statut_etudiant_with_france_connect/zz-inconnu.yml"
    fake = root / P / "api_particulier_v3_mesri_statut_etudiant_with_france_connect/fake_france_connect_mesri.yml"
    source_text = fake.read_text(encoding="utf-8")
    family = yaml.safe_load(source_text)["params"]["nomNaissance"]
    (root / rel).write_text(source_text.replace(family, "INCONNUE"), encoding="utf-8")
    expect("france-connect-no-token", rel, _line_of(source_text, "params:"))

    # france-connect-schema: a gender FranceConnect never sends (a token that reaches no case)
    rel = P + "france_connect/cnaf_css.yml"
    text = _edit(root, rel, lambda t: t.replace('"gender": "male"', '"gender": "M"', 1))
    expect("france-connect-schema", rel, _line_of(text, "payload: |-"))

    # france-connect-token: a token that is not a string
    rel = P + "france_connect/cnaf_eaje.yml"
    text = _edit(root, rel, _replace_line("token:", "  token: 12"))
    expect("france-connect-token", rel, _line_of(text, "token: 12"))

    # france-connect-api-path (warning): no api_path
    rel = P + "france_connect/cnaf_qfv2.yml"
    text = _edit(root, rel, lambda t: "\n".join(x for x in t.split("\n") if not x.startswith("api_path:")))
    expect("france-connect-api-path", rel, 1)

    # invalid-case: params that are not a mapping
    rel = P + "api_entreprise_v3_qualifelec_certificats/zz-invalide.yaml"
    (root / rel).write_text("---\ndescription: 'x'\nparams: 'siret'\nstatus: 200\npayload: '{}'\n", encoding="utf-8")
    expect("invalid-case", rel, 3)

    # unreadable-file: not UTF-8
    rel = P + "api_entreprise_v3_msa_conformites_cotisations/zz-latin1.yaml"
    (root / rel).write_bytes("description: 'caf\xe9'\n".encode("latin-1"))
    expect("unreadable-file", rel, None)

    # yaml-duplicate-key: a key written twice (real staging keeps the last value, silently)
    rel = P + "api_entreprise_v3_insee_etablissements/personne_morale_etat_cesse.yaml"
    text = _edit(root, rel, _insert_after("status: 200", "status: 200"))
    expect("yaml-duplicate-key", rel, _line_of(text, "status: 200") + 1)

    # payload-identifier: the payload names another company than params.siren (a SIREN, at its line)
    rel = P + "api_entreprise_v3_insee_unites_legales/personne_physique_diffusible.yaml"
    text = _edit(root, rel, lambda t: t.replace('"siren": "478464803"', '"siren": "552049447"', 1))
    expect("payload-identifier", rel, _line_of(text, '"siren": "552049447"'))

    # payload-identifier: the unite_legale of an establishment is another company (the SIREN of a SIRET)
    rel = P + "api_entreprise_v3_insee_etablissements/personne_physique_diffusible.yaml"
    text = _edit(root, rel, lambda t: t.replace('"siren": "478464803"', '"siren": "418166096"', 1))
    expect("payload-identifier", rel, _line_of(text, '"siren": "418166096"'))

    # payload-identifier: an INE (API Particulier v2)
    rel = P + "api_particulier_v2_mesri_student_status/ine_0100007108D.yaml"
    text = _edit(root, rel, lambda t: t.replace('"ine": "0100007108D"', '"ine": "0100007109D"', 1))
    expect("payload-identifier", rel, _line_of(text, '"ine": "0100007109D"'))

    # placeholder-text (warning): the title and the description `sandbox new-case` writes, left as they are
    rel = P + "api_entreprise_v3_rnm_entreprises_artisanales/404.yaml"
    text = _edit(root, rel, lambda t: t.replace("---\n", f"---\ntitle: '{PLACEHOLDER_TITLE}'\n", 1))
    expect("placeholder-text", rel, _line_of(text, "title: 'À compléter"))
    rel = P + "api_entreprise_v3_probtp_attestations_cotisation_retraite/404.yml"
    text = _edit(root, rel, _replace_line("description:", f"description: '{PLACEHOLDER_DESCRIPTION}'"))
    expect("placeholder-text", rel, _line_of(text, "description: 'À compléter"))

    # repository-problem: a broken sandbox.yaml
    (root / "sandbox.yaml").write_text("lookup_rules: [\n", encoding="utf-8")
    expect("repository-problem", "sandbox.yaml", 2)
    return expected


def _keys(report: LintReport) -> Counter[Key]:
    return Counter((f.file, f.line, f.rule) for f in report.findings)


def test_seeded_defects_are_each_reported_once_where_they_are(tmp_path: Path) -> None:
    source = corpus_path("siade_staging_data")
    pristine = tmp_path / "pristine"
    seeded = tmp_path / "seeded"
    shutil.copytree(source, pristine)
    shutil.copytree(source, seeded)
    original = _corpus_report("siade_staging_data", MatchMode.DOCUMENTED)
    untouched = lint_repository(pristine, today=TODAY)
    assert untouched.findings == original.findings  # a copy reports exactly what the original does
    expected = _seed(seeded)
    report = lint_repository(seeded, today=TODAY)
    before, after = _keys(untouched), _keys(report)
    new = after - before
    involved = set().union(*expected.values())
    missing = [key for key in expected if after[key] != 1]
    unexpected = [key for key in new if key not in expected]
    lost = [key for key in before - after if key[0] not in involved]
    print(f"\n{len(expected)} seeded defects, rules {sorted({k[2] for k in expected})}")
    for key in sorted(expected, key=str):
        print(f"  {key[2]:28} {key[0]}:{key[1]}  → reported {after[key]} time(s)")
    assert missing == [], [(k, [f for f in report.findings if f.file == k[0]]) for k in missing]
    assert unexpected == [], unexpected
    assert lost == []  # every other file reports exactly what it did before
    assert len({k[2] for k in expected}) >= 15


# ---------------------------------------------------------------------------
# output, languages, command line
# ---------------------------------------------------------------------------


def test_rule_ids_are_kebab_case_with_both_languages() -> None:
    rules = rule_ids()
    assert len(rules) >= 25
    for rule, (severity, summary) in rules.items():
        assert rule == rule.lower() and " " not in rule and "_" not in rule
        assert severity in ("error", "warning")
        assert summary["en"] and summary["fr"]


def _broken_repository(root: Path) -> Path:
    repo = root / "repo"
    shutil.copytree(ROOT / "schemas", repo / "schemas")
    folder = repo / "payloads" / "api_entreprise_v3_insee_unites_legales"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "payloads/api_entreprise_v3_insee_unites_legales/404.yaml", folder / "404.yaml")
    (folder / "cassé.yaml").write_text("params: [\n", encoding="utf-8")
    (folder / "typo.yaml").write_text(
        (folder / "404.yaml").read_text(encoding="utf-8").replace("params:", "params:\n  sirne: '1'", 1),
        encoding="utf-8",
    )
    return repo


def test_formats_and_french_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _broken_repository(tmp_path)
    assert main([str(repo), "--format", "json", "--lang", "fr", "--today", "2026-04-28"]) == 1
    items = json.loads(capsys.readouterr().out)
    assert {"severity", "file", "line", "rule", "message", "hint"} <= set(items[0])
    by_rule = {item["rule"]: item for item in items}
    assert by_rule["invalid-yaml"]["line"] == 2
    assert by_rule["invalid-yaml"]["message"].startswith("YAML invalide")
    assert "vouliez-vous dire `siren` ?" in by_rule["unknown-parameter"]["message"]
    assert main([str(repo), "--format", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    annotation = next(line for line in lines if "title=unknown-parameter" in line)
    assert annotation.startswith("::error file=")
    assert ",line=" in annotation and "typo.yaml" in annotation
    assert main([str(repo)]) == 1
    text = capsys.readouterr().out
    assert "error [invalid-yaml]" in text and "fix:" in text


def test_a_file_that_does_not_parse_is_a_finding_never_a_crash(tmp_path: Path) -> None:
    repo = _broken_repository(tmp_path)
    folder = repo / "payloads" / "api_entreprise_v3_insee_unites_legales"
    (folder / "vide.yaml").write_text("", encoding="utf-8")
    (folder / "liste.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    (folder / "binaire.yml").write_bytes(b"\xff\xfe\x00")
    (folder / "tag.yaml").write_text("params: !ruby/object:Foo {}\n", encoding="utf-8")
    report = lint_repository(repo)
    rules = {(Path(f.file).name, f.rule) for f in report.findings}
    assert ("binaire.yml", "unreadable-file") in rules
    assert ("liste.yaml", "invalid-case") in rules
    assert ("tag.yaml", "invalid-yaml") in rules
    assert ("vide.yaml", "invalid-case") in rules


def test_exit_status_is_0_with_warnings_only(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "schemas", repo / "schemas")
    folder = repo / "payloads" / "api_entreprise_v3_insee_unites_legales"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "payloads/api_entreprise_v3_insee_unites_legales/404.yaml", folder / "404.yaml")
    france_connect = repo / "payloads" / "france_connect"
    france_connect.mkdir()
    token = (ROOT / "payloads/france_connect/etudiante.yaml").read_text(encoding="utf-8")
    (france_connect / "etudiante.yaml").write_text(
        "\n".join(x for x in token.split("\n") if not x.startswith("api_path:")), encoding="utf-8"
    )
    report = lint_repository(repo)
    assert [f.rule for f in report.findings] == ["france-connect-api-path"]
    assert main([str(repo)]) == 0


def test_python_module_entry_point_and_help() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "sandbox.cli.lint", "--help"], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "--match" in run.stdout and "--lang" in run.stdout and "--format" in run.stdout


# ---------------------------------------------------------------------------
# the embedded repository
# ---------------------------------------------------------------------------


def test_embedded_repository_lint_report() -> None:
    """The embedded repository lints clean in documented mode."""
    report = lint_repository(ROOT, today=PINNED_TODAY)
    print(f"\n[embedded] {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    for finding in report.findings:
        print(f"  {finding.file}:{finding.line} {finding.rule} {finding.message[:140]}")
    assert report.errors == ()
