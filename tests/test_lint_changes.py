"""Linting what a pull request changes: `--changed-since`, `--baseline`, files and folders as arguments.

On a copy of siade_staging_data made a git repository, with one commit adding a broken case
and a good case (`tests/changed_repository.py`); the corpus keeps its own old findings.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from sandbox.cli.lint import main
from sandbox.tools.placeholders import PLACEHOLDER_TITLE
from tests.changed_repository import ChangedRepository, build, git
from tests.conftest import corpus_path

TODAY = "2026-04-28"


@pytest.fixture
def changed(tmp_path: Path) -> ChangedRepository:
    return build(corpus_path("siade_staging_data"), tmp_path / "fixtures")


def _run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, list[dict[str, object]]]:
    capsys.readouterr()
    status = main([*arguments, "--today", TODAY, "--format", "json"])
    return status, json.loads(capsys.readouterr().out)


def _keys(findings: list[dict[str, object]]) -> Counter[tuple[object, ...]]:
    return Counter((f["file"], f["line"], f["rule"], f["message"]) for f in findings)


def test_changed_since_reports_only_the_changed_cases_findings(
    changed: ChangedRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(changed.root)
    status, everything = _run(capsys, root)
    old = sum(f["severity"] == "error" for f in everything)
    status_changed, findings = _run(capsys, root, "--changed-since", "HEAD~1")
    with capsys.disabled():
        print(f"\nwhole repository: exit {status}, {old} errors; --changed-since HEAD~1: exit {status_changed}")
        for finding in findings:
            print(f"  {finding['file']}:{finding['line']} {finding['severity']} [{finding['rule']}]")
    assert status == 1 and old > 150  # the corpus's own findings
    assert status_changed == 1
    assert {f["file"] for f in findings} == {f"{root}/{changed.broken}"}
    assert sorted((f["rule"], f["line"]) for f in findings) == [
        ("payload-identifier", 9),
        ("payload-identifier", 11),
        ("placeholder-text", 2),
    ]
    changed.fix_broken()  # in the working tree: what a contributor checks before pushing
    status_fixed, findings = _run(capsys, root, "--changed-since", "HEAD~1")
    assert (status_fixed, findings) == (0, [])
    assert main([root, "--today", TODAY]) == 1  # the old findings are still there
    capsys.readouterr()


def test_a_baseline_tolerates_the_old_findings_and_fails_on_new_ones(
    changed: ChangedRepository, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = str(changed.root)
    baseline = tmp_path / "lint-baseline.json"
    git(changed.root, "checkout", "--quiet", "HEAD~1")  # the repository before the pull request
    assert main([root, "--today", TODAY, "--write-baseline", str(baseline)]) == 0
    written = capsys.readouterr().out
    git(changed.root, "checkout", "--quiet", "main")
    text = baseline.read_text(encoding="utf-8")
    entries = json.loads(text)["findings"]
    with capsys.disabled():
        print(f"\n{written.splitlines()[-1]}; first entries:\n" + "\n".join(text.splitlines()[:7]))
    assert len(entries) > 150 and '"line"' not in text  # rule, file and field: no line numbers
    lines = text.splitlines()[4:-2]
    assert len(lines) == len(entries)  # one finding per line
    assert [(e["file"], e["field"], e["rule"]) for e in entries] == sorted(
        (e["file"], e["field"], e["rule"]) for e in entries
    )
    status, findings = _run(capsys, root, "--baseline", str(baseline))
    assert status == 1
    assert {f["file"] for f in findings} == {f"{root}/{changed.broken}"}
    assert len(findings) == 3
    changed.fix_broken()
    status, findings = _run(capsys, root, "--baseline", str(baseline))
    assert (status, findings) == (0, [])
    assert main([root, "--today", TODAY, "--baseline", str(baseline)]) == 0
    assert "known finding(s) tolerated by the baseline" in capsys.readouterr().out


def test_a_baseline_survives_edits_above_a_finding_and_a_fixed_finding_leaves_it(
    changed: ChangedRepository, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = changed.root
    changed.fix_broken()
    baseline = tmp_path / "lint-baseline.json"
    assert main([str(root), "--today", TODAY, "--write-baseline", str(baseline)]) == 0
    capsys.readouterr()
    before = json.loads(baseline.read_text(encoding="utf-8"))["findings"]
    # lines added above the findings of a case: its findings move down, the baseline still knows them
    moved = root / "payloads/api_particulier_v3_men_scolarites_with_civility/200.yaml"
    moved.write_text("# commentaire\n# ajouté\n" + moved.read_text(encoding="utf-8"), encoding="utf-8")
    assert main([str(root), "--today", TODAY, "--baseline", str(baseline)]) == 0
    capsys.readouterr()
    # an old finding fixed: reported as fixed, and it leaves the baseline when rewritten
    fixed = root / "payloads/api_entreprise_v3_gip_mds_effectifs_mensuels_etablissement/200.yaml"
    fixed.write_text(
        fixed.read_text(encoding="utf-8").replace('"siret": "55203253400646"', '"siret": "13002526500013"'),
        encoding="utf-8",
    )
    # and a new one that must not enter the baseline when it is rewritten with --baseline
    (root / changed.good).write_text(
        (root / changed.good).read_text(encoding="utf-8").replace("status: 200", "status: 401"), encoding="utf-8"
    )
    status = main([str(root), "--today", TODAY, "--baseline", str(baseline), "--write-baseline", str(baseline)])
    out = capsys.readouterr().out
    assert status == 1 and "[status-not-allowed]" in out  # the new finding fails
    after = json.loads(baseline.read_text(encoding="utf-8"))["findings"]
    gone = [e for e in before if e not in after]
    assert gone == [{"file": str(fixed.relative_to(root)), "field": "payload/data/siret", "rule": "payload-identifier"}]
    assert [e for e in after if e not in before] == []
    assert main([str(root), "--today", TODAY, "--baseline", str(baseline)]) == 1
    capsys.readouterr()


def test_a_file_gives_the_findings_the_repository_run_gives_for_it(
    changed: ChangedRepository, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = changed.root
    _, everything = _run(capsys, str(root))
    folder = root / "payloads/api_particulier_v3_men_scolarites_with_civility"
    files = [
        changed.broken,
        changed.good,
        "payloads/api_particulier_v3_men_scolarites_with_civility/200.yaml",  # an old finding
        "payloads/api_entreprise_v3_dgfip_chiffres_affaires/200-2022.yaml",  # two old findings
    ]
    for rel in files:
        _, alone = _run(capsys, str(root / rel))
        expected = [f for f in everything if f["file"] == f"{root}/{rel}"]
        assert _keys(alone) == _keys(expected), rel
    assert len([f for f in everything if str(f["file"]).endswith("200-2022.yaml")]) == 2
    # from inside the repository, with a relative path: the root is found upward
    monkeypatch.chdir(folder)
    status, alone = _run(capsys, "200.yaml")
    assert status == 1
    assert [os.path.normpath(folder / str(f["file"])) for f in alone] == [str(folder / "200.yaml")]
    status, whole_folder = _run(capsys, ".")
    inside = [f for f in everything if str(f["file"]).startswith(str(folder))]
    assert len(inside) >= 1
    assert _keys([{**f, "file": os.path.normpath(folder / str(f["file"]))} for f in whole_folder]) == _keys(inside)


def test_findings_the_changes_cause_elsewhere_come_after_the_changed_files(
    changed: ChangedRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new case with an existing case's params: the existing one is never answered any more."""
    root = changed.root
    changed.fix_broken()
    folder = root / "payloads/api_entreprise_v3_insee_unites_legales"
    copy = folder / "zz-copie.yaml"
    shutil.copy(folder / "personne_morale_etat_cesse.yaml", copy)
    text = copy.read_text(encoding="utf-8")
    copy.write_text(text.replace("description: '", f"description: '{PLACEHOLDER_TITLE} ", 1), encoding="utf-8")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "Une copie")
    assert main([str(root), "--today", TODAY, "--changed-since", "HEAD~1", "--format", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    annotations = [line for line in lines if line.startswith(("::error", "::warning"))]
    with capsys.disabled():
        print("\n" + "\n".join(line[:150] for line in lines))
    files = [line.split("file=")[1].split(",")[0] for line in annotations]
    # the changed file first (its placeholder), then the case it shadows (never answered any more)
    assert len(annotations) == 2
    assert annotations[0].startswith("::warning") and files[0].endswith("zz-copie.yaml")
    assert "title=placeholder-text" in annotations[0]
    assert annotations[1].startswith("::error") and files[1].endswith("personne_morale_etat_cesse.yaml")
    assert "title=duplicate-params" in annotations[1] and "zz-copie.yaml" in annotations[1]
    # linting the new file alone shows the case it shadows too
    status, alone = _run(capsys, str(copy))
    assert status == 1 and any(str(f["file"]).endswith("personne_morale_etat_cesse.yaml") for f in alone)


def test_usage_errors_exit_2(changed: ChangedRepository, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = str(changed.root)
    assert main([root, "--changed-since", "no-such-branch"]) == 2
    assert "unknown revision" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2
    assert "in no fixture repository" in capsys.readouterr().err
    assert main([str(changed.root / changed.good), "--write-baseline", str(tmp_path / "b.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}', encoding="utf-8")
    assert main([root, "--baseline", str(bad)]) == 2
    assert "not a baseline" in capsys.readouterr().err
    outside = tmp_path / "outside"
    shutil.copytree(changed.root / "payloads/api_entreprise_v3_insee_unites_legales", outside / "payloads/x")
    assert main([str(changed.root / changed.good), str(outside / "payloads/x")]) == 2
    assert "different fixture repositories" in capsys.readouterr().err
