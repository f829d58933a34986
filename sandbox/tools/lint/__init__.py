"""`sandbox lint`: every contributor check of the fixture repository, and what the server would do.

The checks of the upstream repository (spec §9: safe YAML, JSON payload, allowed status,
description, no tracking parameters in API Entreprise cases, params and payload against
the OpenAPI document, duplicate params, FranceConnect introspection schema), plus what
they miss (§10.2 item 17): unknown parameter names, identifiers the server's own
validators refuse, cases no request can reach in the chosen match mode and why, cases
equal after normalisation, undocumented statuses, API Particulier folders without a
not-found case, FranceConnect cases no token produces, and date-dependent validity.

Reachability is not guessed: the request a client would send for a case is built and
run through the server's own validators (`sandbox.rules.validation`) and key builder
(`sandbox.rules.matching.KeyBuilder`), exactly as `sandbox serve` would. A FranceConnect case
is replayed from the identity it describes through `civility_parameters`.

Files that do not parse are findings, never crashes. Rule ids, severities and texts
(English and French) are data: `messages.yaml`.

The package, by concern: `messages` (rule texts, French library messages), `reading` (one
file, its lines), `simulation` (the request a case makes), the rules by theme (`structure`,
`parameters`, `checks`, `reachability`, `franceconnect`, `duplicates`), `linter` (the walk
over the repository and the rule order), `report` and `output`. The command line is
`sandbox.cli.lint`.
"""

from __future__ import annotations

from sandbox.tools.lint.checks import check_parameters
from sandbox.tools.lint.franceconnect import FRANCE_CONNECT_SCHEMA
from sandbox.tools.lint.linter import lint_repository
from sandbox.tools.lint.messages import rule_ids
from sandbox.tools.lint.output import format_findings
from sandbox.tools.lint.report import REACHABILITY_RULES, Finding, LintReport
from sandbox.tools.lint.structure import ALLOWED_STATUSES

__all__ = [
    "ALLOWED_STATUSES",
    "FRANCE_CONNECT_SCHEMA",
    "REACHABILITY_RULES",
    "Finding",
    "LintReport",
    "check_parameters",
    "format_findings",
    "lint_repository",
    "rule_ids",
]
