"""`sandbox new-case`: the case it writes passes `sandbox lint`, on every operation of the embedded
repository and of both public corpora.

"Passes" means no error and no warning but the two `placeholder-text` warnings that ask the
contributor to write the title and the description (lint exits 0 on them).
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import pytest
import yaml

from sandbox.cli.lint import main as lint_main
from sandbox.cli.new_case import main
from sandbox.load.openapi import operations_from_documents
from sandbox.load.repository import read_repository
from sandbox.rules.identifiers import is_siren, is_siret
from sandbox.tools.lint import lint_repository
from sandbox.tools.payload_identifiers import fields_for, mismatches
from sandbox.tools.scaffold import PLACEHOLDER_DESCRIPTION, PLACEHOLDER_TITLE, ScaffoldError, new_case
from tests.conftest import CORPORA, ROOT, corpus_path

TODAY = datetime.date(2026, 4, 28)


def _embedded_copy(tmp_path: Path) -> Path:
    """The embedded repository (payloads/, schemas/, data/, tokens/), copied: tests never write into it."""
    copy = tmp_path / "embedded"
    for folder in ("payloads", "schemas", "data", "tokens"):
        shutil.copytree(ROOT / folder, copy / folder)
    return copy


def _scaffold_every_operation(root: Path) -> tuple[dict[str, str], list[str]]:
    """One new case per operation, all written, then one lint run; returns the files and their errors."""
    content = read_repository(root)
    operations = operations_from_documents(content.documents, [])
    before = {(f.file, f.rule) for f in lint_repository(root, today=TODAY).errors}
    written: dict[str, str] = {}
    for operation_id in operations:
        try:
            made = new_case(root, operation_id, today=TODAY, content=content)
        except ScaffoldError as error:
            assert "410 Gone" in str(error), error  # only retired routes are refused
            continue
        made.path.parent.mkdir(parents=True, exist_ok=True)
        made.path.write_text(made.text, encoding="utf-8")
        written[operation_id] = str(made.path.relative_to(root))
    report = lint_repository(root, today=TODAY)
    placeholders = {(rel, line, "placeholder-text") for rel in written.values() for line in (2, 3)}
    found = {(f.file, f.line, f.rule) for f in report.findings}
    missing = [f"{rel}:{line} {rule} not reported" for rel, line, rule in sorted(placeholders - found)]
    problems = missing + [
        f"{f.file}:{f.line} {f.rule} {f.message}"
        for f in report.findings
        if (f.file in written.values() and (f.file, f.line, f.rule) not in placeholders)
        or (f.severity == "error" and (f.file, f.rule) not in before)
    ]
    return written, problems


def test_new_cases_pass_lint_on_every_operation_of_the_embedded_repository(tmp_path: Path) -> None:
    written, problems = _scaffold_every_operation(_embedded_copy(tmp_path))
    print(f"\n[embedded] {len(written)} operations, a new case each; findings on them: {len(problems)}")
    assert problems == []
    assert len(written) >= 10


@pytest.mark.parametrize("name", CORPORA)
def test_new_cases_pass_lint_on_every_operation_of_a_public_corpus(tmp_path: Path, name: str) -> None:
    copy = tmp_path / name
    shutil.copytree(corpus_path(name), copy)
    written, problems = _scaffold_every_operation(copy)
    with_identifiers = [op for op in written if fields_for(op)]
    print(
        f"\n[{name}] {len(written)} operations, a new case each ({len(with_identifiers)} with payload "
        f"identifiers); findings on them beyond the two placeholders: {len(problems)}"
    )
    assert problems == []
    assert len(written) >= 90
    assert len(with_identifiers) >= 20


def test_the_payload_follows_the_params_it_writes(tmp_path: Path) -> None:
    """The copied payload named another company (775672272): new-case rewrites its identifiers."""
    root = _embedded_copy(tmp_path)
    content = read_repository(root)
    made = new_case(root, "api_entreprise_v3_insee_unites_legales", today=TODAY, content=content)
    template = next(c for c in content.folders["api_entreprise_v3_insee_unites_legales"] if c.status == 200)
    assert template.payload["data"]["siren"] != made.params["siren"]  # the template is another company
    assert made.payload["data"]["siren"] == made.params["siren"]
    assert made.payload["data"]["siret_siege_social"][:9] == made.params["siren"]
    assert is_siret(made.payload["data"]["siret_siege_social"])
    assert json.loads(yaml.safe_load(made.text)["payload"]) == made.payload
    assert mismatches("api_entreprise_v3_insee_unites_legales", made.params, made.payload) == []
    etablissement = new_case(root, "api_entreprise_v3_insee_etablissements", today=TODAY, content=content)
    data = etablissement.payload["data"]
    assert data["siret"] == etablissement.params["siret"]
    assert data["unite_legale"]["siren"] == etablissement.params["siret"][:9]
    text = yaml.safe_load(made.text)
    assert (text["title"], text["description"]) == (PLACEHOLDER_TITLE, PLACEHOLDER_DESCRIPTION)


def test_values_are_valid_fresh_and_well_typed(tmp_path: Path) -> None:
    root = _embedded_copy(tmp_path)
    content = read_repository(root)
    used = {str(c.params.get("siren")) for c in content.folders["api_entreprise_v3_insee_unites_legales"]}
    made = new_case(root, "api_entreprise_v3_insee_unites_legales", today=TODAY, content=content)
    assert is_siren(made.params["siren"]) and made.params["siren"] not in used
    siret = new_case(root, "api_entreprise_v3_insee_etablissements", today=TODAY, content=content)
    assert is_siret(siret.params["siret"])
    civility = new_case(root, "api_particulier_v3_cnav_quotient_familial_with_civility", today=TODAY, content=content)
    data = yaml.safe_load(civility.text)
    assert isinstance(data["params"]["prenoms"], list)
    born = datetime.date(
        data["params"]["anneeDateNaissance"], data["params"]["moisDateNaissance"], data["params"]["jourDateNaissance"]
    )
    assert born < TODAY
    assert data["status"] == 200 and data["description"] == PLACEHOLDER_DESCRIPTION
    assert data["description"].startswith("À compléter")
    france_connect = new_case(root, "api_particulier_v3_mesri_statut_etudiant_with_france_connect", today=TODAY)
    assert france_connect.params["nomNaissance"] == "FONTAINE"  # the identity of the unused token etudiant_inconnu


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _embedded_copy(tmp_path)
    operation = "api_entreprise_v3_acoss_attestations_sociales"
    assert main([operation, "--fixtures", str(root), "--output", "-", "--today", "2026-04-28"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("---\ntitle: 'À compléter") and "status: 200" in printed
    assert main([operation, "--fixtures", str(root), "--today", "2026-04-28"]) == 0
    assert (root / "payloads" / operation / "200-a-completer.yaml").is_file()
    assert main([operation, "--fixtures", str(root), "--today", "2026-04-28"]) == 0
    assert (root / "payloads" / operation / "200-a-completer-2.yaml").is_file()
    target = tmp_path / "out" / "case.yaml"
    assert main([operation, "--fixtures", str(root), "--output", str(target), "--from-openapi"]) == 0
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["status"] == 200
    assert main(["api_entreprise_v3_acoss_attestation_sociales", "--fixtures", str(root)]) == 2
    assert "did you mean api_entreprise_v3_acoss_attestations_sociales" in capsys.readouterr().err
    report = lint_repository(root, today=TODAY)
    scaffolded = [f for f in report.findings if "a-completer" in f.file]
    assert {(f.rule, f.field) for f in scaffolded} == {
        ("placeholder-text", "title"),
        ("placeholder-text", "description"),
    }
    assert len(scaffolded) == 2 * 2  # the two written into the repository, each with its title and description
    assert lint_main([str(root), "--today", "2026-04-28"]) == 0  # warnings only
