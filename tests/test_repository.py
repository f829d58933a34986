from __future__ import annotations

from pathlib import Path

from sandbox.load.repository import read_repository

GOOD = """---
description: ok
params:
  siren: '130025265'
status: 200
payload: |-
  {"data": {"a": 1}}
"""


def _write(root: Path, name: str, text: str) -> None:
    path = root / "payloads" / "op" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_bad_files_are_reported_with_line_and_reason_and_the_rest_loads(tmp_path: Path) -> None:
    _write(tmp_path, "good.yaml", GOOD)
    _write(tmp_path, "broken.yaml", "params:\n  a: [1, 2\nstatus: 200\n")
    _write(tmp_path, "not-json.yaml", GOOD.replace('{"data": {"a": 1}}', '{"data": \n    oops}'))
    _write(tmp_path, "no-params.yaml", "status: 200\npayload: '{}'\n")
    _write(tmp_path, "bad-status.yaml", GOOD.replace("status: 200", "status: OK"))
    _write(tmp_path, "notes.txt", "ignored")
    content = read_repository(tmp_path)
    assert [c.file for c in content.folders["op"]] == ["good.yaml"]
    problems = {Path(p.path).name: p for p in content.problems}
    assert set(problems) == {"broken.yaml", "not-json.yaml", "no-params.yaml", "bad-status.yaml"}
    assert problems["broken.yaml"].line == 3 and "invalid YAML" in problems["broken.yaml"].reason
    assert problems["not-json.yaml"].line == 8 and "not valid JSON" in problems["not-json.yaml"].reason
    assert "`params` is missing" in problems["no-params.yaml"].reason
    assert problems["bad-status.yaml"].line == 5
    assert (
        str(problems["bad-status.yaml"])
        == "payloads/op/bad-status.yaml:5: `status` must be an HTTP status code, got 'OK'"
    )


def test_missing_tree_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    content = read_repository(tmp_path / "absent")
    assert content.problems and "not found" in content.problems[0].reason
