"""The date-window forecast (`date-window-expiring`) against the spec's windows (§3.5), on siade_staging_data.

The expected warnings are computed here from the spec alone, not from the validators lint
runs: QF `annee` in [N−2, N] (refused from 1 January of `annee` + 3), DSNJ age 16–25
(refused from the 26th birthday); CNOUS `campaignYear` 2021..N−1, DGFIP `year` 2006..N−1
and GIP-MDS `year` 1900..N only widen as N grows, so a year valid today stays valid.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest
import yaml

from sandbox.cli.lint import main
from tests.conftest import corpus_path

_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def _age(born: datetime.date, on: datetime.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _spec_first_refusal(
    folder: str, params: dict[str, object], today: datetime.date
) -> tuple[str, datetime.date] | None:
    """The first day after `today` the spec's windows refuse the case, with the code, if valid today."""
    if "quotient_familial" in folder and "annee" in params:
        year = int(str(params["annee"]))
        if not today.year - 2 <= year <= today.year:
            return None  # refused today: a `date-window` error, not a forecast
        return "00356", datetime.date(year + 3, 1, 1)
    if "dsnj_service_national" in folder and "anneeDateNaissance" in params:
        born = datetime.date(
            int(str(params["anneeDateNaissance"])),
            int(str(params["moisDateNaissance"])),
            int(str(params["jourDateNaissance"])),
        )
        if not 16 <= _age(born, today) <= 25:
            return None
        day = today
        for _ in range(366 * 30):  # bounded: the 26th birthday is at most ten years away
            day += datetime.timedelta(days=1)
            if _age(born, day) > 25:
                return "39400", day
    return None


def _lint(root: Path, today: str, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, object]]:
    main([str(root), "--today", today, "--format", "json", *extra])
    findings: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    for finding in findings:
        finding["file"] = str(finding["file"]).split("payloads/", 1)[-1]
    return findings


@pytest.mark.parametrize(("today", "count"), [("2018-06-01", 2), ("2025-06-15", 3), ("2026-04-28", 0)])
def test_forecast_names_the_cases_and_dates_the_spec_windows_give(
    today: str, count: int, capsys: pytest.CaptureFixture[str]
) -> None:
    root = corpus_path("siade_staging_data")
    findings = _lint(root, today, capsys)
    day = datetime.date.fromisoformat(today)
    horizon = day + datetime.timedelta(days=365)
    with_errors = {f["file"] for f in findings if f["severity"] == "error"}
    expected = {}
    for path in sorted((root / "payloads").glob("*/*.y*ml")):
        folder = path.parent.name
        rel = f"{folder}/{path.name}"
        params = yaml.safe_load(path.read_text(encoding="utf-8")).get("params") or {}
        refusal = _spec_first_refusal(folder, params, day)
        if refusal is not None and refusal[1] <= horizon and rel not in with_errors:
            expected[rel] = refusal
    warned = {}
    for finding in findings:
        if finding["rule"] == "date-window-expiring":
            message = str(finding["message"])
            match = _DATE.search(message)
            assert match is not None, message
            code = "00356" if "00356" in message else "39400" if "39400" in message else "?"
            warned[str(finding["file"])] = (code, datetime.date.fromisoformat(match.group(1)))
            assert finding["line"], finding  # at the parameter's line
    print(f"\n[{today}] forecast: " + "; ".join(f"{file} → {date} ({code})" for file, (code, date) in warned.items()))
    assert warned == expected
    assert len(warned) == count


def test_forecast_days_sets_the_horizon(capsys: pytest.CaptureFixture[str]) -> None:
    """0 turns the forecast off; a longer horizon reaches further refusals (2026-01-01 is 214 days after)."""
    root = corpus_path("siade_staging_data")

    def expiring(*extra: str) -> set[str]:
        return {
            str(f["file"]) for f in _lint(root, "2025-06-01", capsys, *extra) if f["rule"] == "date-window-expiring"
        }

    assert len(expiring()) == 3
    assert expiring("--forecast-days", "0") == set()
    assert expiring("--forecast-days", "200") == set()  # every refusal is on 2026-01-01
    assert expiring("--forecast-days", "214") == expiring()
    with pytest.raises(SystemExit) as stopped:
        main([str(root), "--forecast-days", "99999"])
    assert stopped.value.code == 2
