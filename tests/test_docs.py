"""`sandbox docs`: the generated files of the upstream repository, byte for byte."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from sandbox.cli.docs import main
from sandbox.tools.docs import DEFAULT_BASE_URLS, compact_json, curl_command, generate, pretty_json, stale_files
from tests.conftest import CORPORA, ROOT, corpus_path

# apistration_mocks commits two generated files older than their case: the case
# `200-couple-2_enfants-qf_msa_150_mai26`'s given names were edited without regenerating.
STALE_UPSTREAM = {
    "siade_staging_data": set(),
    "apistration_mocks": {
        "payloads/api_particulier_v3_cnav_quotient_familial_with_civility/README.md",
        "payloads/api_particulier_v3_cnav_quotient_familial_with_civility/summary.csv",
    },
}


def _entries(readme: str) -> list[str]:
    return re.findall(r"^\* \[([^\]]+)\]", readme, flags=re.M)


def _curls(readme: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)\n  ```", readme, flags=re.S)


@pytest.mark.parametrize("name", CORPORA)
def test_regenerating_a_corpus_reproduces_its_generated_files(name: str, tmp_path: Path) -> None:
    source = corpus_path(name)
    copy = tmp_path / name
    shutil.copytree(source, copy)
    files = generate(copy)
    committed = {
        str(p.relative_to(source)) for p in (source / "payloads").rglob("*") if p.name in ("README.md", "summary.csv")
    }
    assert {f.path for f in files} == committed  # the same files: root table, every folder, france_connect
    differ = set(stale_files(copy, files))
    print(f"\n[{name}] {len(files)} generated files, {len(differ)} differ byte-wise from the committed ones: {differ}")
    assert differ == STALE_UPSTREAM[name]
    # same cases listed, same cURL commands, everywhere (the stale files: where the case changed)
    for file in files:
        if not file.path.endswith("README.md"):
            continue
        original = (source / file.path).read_text(encoding="utf-8")
        assert _entries(file.content) == _entries(original), file.path
        if file.path not in differ:
            assert _curls(file.content) == _curls(original), file.path
    assert main([str(copy)]) == 0
    assert main([str(copy), "--check"]) == 0


def test_check_lists_stale_files_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = corpus_path("siade_staging_data")
    copy = tmp_path / "repo"
    shutil.copytree(source, copy)
    case = copy / "payloads/api_entreprise_v3_insee_unites_legales/association.yaml"
    case.write_text(case.read_text(encoding="utf-8").replace("succès 200", "succès"), encoding="utf-8")
    (copy / "payloads/api_entreprise_v3_rnm_entreprises_artisanales/summary.csv").unlink()
    assert main([str(copy), "--check"]) == 1
    out = capsys.readouterr().out
    assert "stale: payloads/api_entreprise_v3_insee_unites_legales/README.md" in out
    assert "stale: payloads/api_entreprise_v3_insee_unites_legales/summary.csv" in out
    assert "stale: payloads/api_entreprise_v3_rnm_entreprises_artisanales/summary.csv" in out
    assert out.count("stale:") == 3
    assert main([str(copy)]) == 0
    assert main([str(copy), "--check"]) == 0


def test_files_inside_the_repository_regenerate_only_their_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the pre-commit hook does: the folders of the files named, and payloads/README.md."""
    source = corpus_path("siade_staging_data")
    copy = tmp_path / "repo"
    shutil.copytree(source, copy)
    changed = copy / "payloads/api_entreprise_v3_insee_unites_legales/association.yaml"
    changed.write_text(changed.read_text(encoding="utf-8").replace("succès 200", "succès"), encoding="utf-8")
    other = copy / "payloads/api_entreprise_v3_rnm_entreprises_artisanales/summary.csv"
    other.unlink()
    untouched = copy / "payloads/api_entreprise_v3_rnm_entreprises_artisanales/200.yaml"
    assert main([str(untouched), "--check"]) == 1  # its own folder lost summary.csv
    assert capsys.readouterr().out.count("stale:") == 1
    assert main([str(changed), "--check"]) == 1
    out = capsys.readouterr().out
    assert out.count("stale:") == 2 and "rnm" not in out
    assert main([str(changed)]) == 0
    assert "2 file(s) written" in capsys.readouterr().out
    assert not other.exists()  # another folder: not regenerated
    assert main([str(changed.parent), "--check"]) == 0
    assert main([str(copy / "payloads"), "--check"]) == 1  # the whole payloads/ folder
    assert main([str(tmp_path), "--check"]) == 2  # in no fixture repository
    assert "in no fixture repository" in capsys.readouterr().err


def test_base_url_replaces_both_staging_hosts(tmp_path: Path) -> None:
    source = corpus_path("siade_staging_data")
    copy = tmp_path / "repo"
    shutil.copytree(source, copy)
    assert main([str(copy), "--base-url", "http://127.0.0.1:8000"]) == 0
    readme = (copy / "payloads/api_entreprise_v3_insee_unites_legales/README.md").read_text(encoding="utf-8")
    assert '--url "http://127.0.0.1:8000/v3/insee/sirene/unites_legales/775672272"' in readme
    assert "staging.entreprise.api.gouv.fr" not in readme
    assert main([str(copy), "--check"]) == 1  # the default is the real staging again


def test_entreprise_examples_omit_query_only_parameters_like_upstream() -> None:
    params = {"siret": "41816609600069", "year": "2024", "month": "01", "nature_effectif": "boeth"}
    path = "/v3/gip_mds/etablissements/{siret}/effectifs_mensuels/{month}/annee/{year}"
    command = curl_command("entreprise", path, params, DEFAULT_BASE_URLS)
    assert command == (
        'curl -H "Authorization: Bearer $token" \\\n'
        "  -G -d 'recipient=10000001700010' -d 'context=Contexte+de+la+requ%C3%AAte' "
        "-d 'object=Objet+de+la+requ%C3%AAte' \\\n"
        '  --url "https://staging.entreprise.api.gouv.fr/v3/gip_mds/etablissements/41816609600069'
        '/effectifs_mensuels/01/annee/2024"'
    )
    assert "nature_effectif" not in command


def test_particulier_and_france_connect_examples() -> None:
    params = {"nomNaissance": "DUPONT", "prenoms": ["Jean", "Éric"], "anneeDateNaissance": 1990}
    v3 = curl_command("particulier", "/v3/dss/prime_activite/identite", params, DEFAULT_BASE_URLS)
    assert (
        "-G -d 'recipient=13002526500013' -d 'nomNaissance=DUPONT' -d 'prenoms[]=Jean' -d 'prenoms[]=%C3%89ric'" in v3
    )
    assert v3.startswith('curl -H "Authorization: Bearer $token"')
    v2 = curl_command("particulier_v2", "/api/v2/prime-activite", params, DEFAULT_BASE_URLS)
    assert v2.startswith("curl -H \"X-Api-Key: $token\" \\\n  -G -d 'nomNaissance=DUPONT'")
    fc = curl_command("france_connect", "/v3/dss/prime_activite/france_connect", params, DEFAULT_BASE_URLS)
    assert fc == (
        'curl -H "Authorization: Bearer $token_france_connect" --url '
        '"https://staging.particulier.api.gouv.fr/v3/dss/prime_activite/france_connect?recipient=13002526500013"'
    )
    token = curl_command("france_connect", "/v2/etudiants", {"token": "mesri"}, DEFAULT_BASE_URLS)
    assert token.startswith('curl -H "Authorization: Bearer mesri" --url')


def test_json_like_ruby() -> None:
    value = {"a": [], "b": {}, "c": [1, {"d": None}], "e": 1.0, "f": 1e20, "g": 'é"<'}
    assert pretty_json(value) == (
        '{\n  "a": [],\n  "b": {},\n  "c": [\n    1,\n    {\n      "d": null\n    }\n  ],\n'
        '  "e": 1.0,\n  "f": 1.0e+20,\n  "g": "é\\"<"\n}'
    )
    assert compact_json({"siren": "775672272", "n": [1, 2]}) == '{"siren":"775672272","n":[1,2]}'


def test_embedded_repository_is_not_touched_by_generation() -> None:
    """Generation reads; only `main` without --check writes (the embedded README is hand-written)."""
    before = (ROOT / "payloads" / "README.md").read_bytes()
    files = generate(ROOT)
    assert any(f.path == "payloads/README.md" for f in files)
    assert (ROOT / "payloads" / "README.md").read_bytes() == before
