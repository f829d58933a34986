"""`sandbox contract`: replay every documented case against a server and check the answers.

Each case of the fixture repository is sent as its README cURL command sends it
(`sandbox.tools.reaching.case_request`) to ANY server: this sandbox, a colleague's, or the real
staging. The answer must have the case's status and JSON body, and must match the
OpenAPI schema of its status (each violation is reported with its JSON path).

Some cases can never be answered as documented; they are replayed too but count as
*expected failures*, each with its reason: routes real staging answers with 410 Gone,
FranceConnect-only cases (unless `--france-connect` replays them with the fake
FranceConnect token that reaches them), and cases the repository lint reports as
errors (parameters real staging rejects, unreachable cases). An expected failure that
does get its documented answer counts as passed.

Output: a summary per operation, then `N passed, N failed[, N expected failures][, N skipped]`;
`--junit FILE` writes the same counts as JUnit XML (one testsuite per operation, one
testcase per case). Exit code 1 when a case failed, 2 when the run could not start.

The parts: `planning` (what to send for each case and what is expected), `compare` (an
answer against its case), `run` (the transport and `run_contract`), `report` (the text
summary and JUnit XML), `habilitation` (what a habilitation receives with `--profile
production --scopes`, offline or as the replay's expectations), `pacing` (the server's rate
limits: wait, and send a 429 again after Retry-After). The command line is
`sandbox.cli.contract`.
"""

from sandbox.tools.contract.compare import MAX_DIFF_LINES, evaluate, json_diff
from sandbox.tools.contract.habilitation import (
    NOT_OPENED,
    OperationView,
    format_habilitation,
    habilitation,
    production_cases,
)
from sandbox.tools.contract.pacing import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_WAIT_S,
    GaveUp,
    Pacer,
    retry_delay,
    throttled,
)
from sandbox.tools.contract.planning import (
    FRANCE_CONNECT_IDENTITY_KEYS,
    FRANCE_CONNECT_ONLY,
    FRANCE_CONNECT_UNREACHED,
    GONE,
    LINT,
    LINT_EXPECTED_FAILURE_RULES,
    ExpectedFailure,
    Finding,
    FindingLike,
    Linter,
    PlannedCase,
    api_of_base_url,
    expected_failures_from_findings,
    france_connect_routes,
    is_france_connect_only,
    lint_findings,
    plan,
)
from sandbox.tools.contract.report import (
    CaseResult,
    ContractReport,
    Outcome,
    format_report,
    junit_tree,
    total_line,
    write_junit,
)
from sandbox.tools.contract.run import (
    CONNECTION_ERRORS,
    CONNECTION_RETRIES,
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT_S,
    RATE_LIMITED,
    RETRY_BACKOFF_S,
    ContractOptions,
    ContractSetupError,
    Progress,
    fetch,
    replay_all,
    run_contract,
)

__all__ = [
    "CONNECTION_ERRORS",
    "CONNECTION_RETRIES",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_WAIT_S",
    "DEFAULT_TIMEOUT_S",
    "FRANCE_CONNECT_IDENTITY_KEYS",
    "FRANCE_CONNECT_ONLY",
    "FRANCE_CONNECT_UNREACHED",
    "GONE",
    "LINT",
    "LINT_EXPECTED_FAILURE_RULES",
    "MAX_DIFF_LINES",
    "NOT_OPENED",
    "RATE_LIMITED",
    "RETRY_BACKOFF_S",
    "CaseResult",
    "ContractOptions",
    "ContractReport",
    "ContractSetupError",
    "ExpectedFailure",
    "Finding",
    "FindingLike",
    "GaveUp",
    "Linter",
    "OperationView",
    "Outcome",
    "Pacer",
    "PlannedCase",
    "Progress",
    "api_of_base_url",
    "evaluate",
    "expected_failures_from_findings",
    "fetch",
    "format_habilitation",
    "format_report",
    "france_connect_routes",
    "habilitation",
    "is_france_connect_only",
    "json_diff",
    "junit_tree",
    "lint_findings",
    "plan",
    "production_cases",
    "replay_all",
    "retry_delay",
    "run_contract",
    "throttled",
    "total_line",
    "write_junit",
]
