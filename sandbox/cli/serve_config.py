"""`ServeConfig`: everything `sandbox serve` is told, each option declared once.

Each field carries its command-line declaration (a `Flag`, in the field's metadata). The
`sandbox serve` arguments are generated from the fields, in field order (the order of the
usage line), and `ServeConfig.from_args` reads each field back from the argument of the same
name: adding an option is adding a field. The app's settings objects (`Services`,
`RequestLimits`, `FileLimits`) are built from a `ServeConfig` by field name, in
`sandbox.cli.assembly`. With `--workers N` the configuration reaches each worker process as
JSON in the environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.cli.arguments import bounded_int, interval, iso_date_text, latency_text, path_text, text, word
from sandbox.load.repository_files import (
    DEFAULT_MAX_ALIAS_NODES,
    DEFAULT_MAX_CASE_BYTES,
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_NESTING,
    FileLimits,
)
from sandbox.load.sources import CACHE_DIR_ENVIRONMENT, default_cache_dir
from sandbox.rules.matching import MatchMode
from sandbox.rules.profiles import PROFILES
from sandbox.rules.tokens import SECRET_ENVIRONMENT
from sandbox.serve.access import ADMIN_TOKEN_ENVIRONMENT
from sandbox.serve.request_limits import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_TOTAL_HEADER_BYTES,
    DEFAULT_MAX_URL_BYTES,
    DEFAULT_MAX_WEBHOOK_BYTES,
)
from sandbox.serve.scenarios import DEFAULT_MAX_DELAY_S

CONFIG_ENVIRONMENT = "SANDBOX_SERVE_CONFIG"
WEBHOOK_SECRET_ENVIRONMENT = "SANDBOX_WEBHOOK_SECRET"

MAX_POLL_S = 86_400  # a day: a longer interval is "never", which is 0
MAX_WORKERS = 64  # each worker holds a whole snapshot in memory
MAX_JOURNAL_SIZE = 10_000  # entries are bounded in size; this bounds their number
MAX_SHUTDOWN_TIMEOUT_S = 3_600
MAX_DELAY_S = 3_600  # an hour: a longer wait is a server that is down
_LARGEST = 2**40  # the byte and count limits: any size a machine could hold

FLAG = "flag"  # the metadata key of a field's `Flag`

# The argument groups of `sandbox serve --help`: title and description. A field without a
# group is one of the command's own options.
SYNC = "sync"
DIAGNOSTICS = "diagnostics"
REQUEST_LIMITS = "request limits"
CONTRACT = "contract"
FILE_LIMITS = "file limits"
ADMIN = "admin"
SCENARIOS = "scenarios"
GROUPS: Mapping[str, tuple[str, str | None]] = {
    SYNC: ("following a git repository", None),
    DIAGNOSTICS: ("diagnostics", None),
    REQUEST_LIMITS: ("request limits (checked before anything is parsed)", None),
    CONTRACT: ("staging contract", None),
    SCENARIOS: (
        "beyond the staging (docs/scenarios.md)",
        "A request may send `Prefer: case=<file>`, `code=<status>`, `delay=<ms>` or "
        "`fault=reset|empty|timeout|truncated` (RFC 7240, combinable); the answer lists what was done in "
        "`Preference-Applied`. Every answer says its profile in `X-Sandbox-Profile`.",
    ),
    FILE_LIMITS: (
        "limits on the fixture repository (untrusted input: a file over a limit is refused and reported)",
        None,
    ),
    ADMIN: (
        "admin access",
        "The sandbox's own routes (GET /__sandbox/requests, /__sandbox/explain/..., the details of "
        "/__sandbox/status, GET /metrics, the catalogue's journal, try-it and usage counts, "
        "POST /api/reload-mocks) are open on a loopback bind; on any other address they answer 403 unless "
        "the request sends 'Authorization: Bearer <admin token>'. The API, /api/ping, the probes "
        "(/__sandbox/live, /__sandbox/ready) and the catalogue's pages stay open; the webhook keeps its own "
        "HMAC signature.",
    ),
}


@dataclass(frozen=True)
class Flag:
    """How one `ServeConfig` field is written on the `sandbox serve` command line.

    The argument's destination is the field's name and its default the field's default, so
    that neither is written twice.
    """

    option: str  # e.g. "--poll"
    help: str | None = None
    group: str | None = None  # a key of GROUPS
    parse: Callable[[str], Any] | None = None  # argparse's `type`: text to the field's value (JSON-ready)
    choices: tuple[str, ...] | None = None
    metavar: str | None = None  # default: the option's name, upper-case
    action: str | type[argparse.Action] = "store"  # store, append, store_true, store_false, or a class
    environment: str | None = None  # the variable also read for it (named in the help)
    process_only: bool = False  # a setting of the process (socket, workers, logs), not of the app

    def keywords(self) -> dict[str, Any]:
        """The `add_argument` keywords beyond the destination and the default."""
        metavar = self.metavar
        if metavar is None and self.action in ("store", "append") and self.choices is None:
            metavar = self.option.lstrip("-").replace("-", "_").upper()  # what argparse derives from the option
        given = {
            "action": self.action,
            "help": self.help,
            "type": self.parse,
            "choices": self.choices,
            "metavar": metavar,
        }
        return {key: value for key, value in given.items() if value is not None}


def option(name: str, **declaration: Any) -> dict[str, Flag]:
    """A field's metadata: its command-line declaration."""
    return {FLAG: Flag(name, **declaration)}


@dataclass
class ServeConfig:
    """Everything `sandbox serve` was told; field order is the order of `sandbox serve --help`."""

    fixtures: list[str] = field(
        metadata=option(
            "--fixtures",
            metavar="PATH_OR_GIT_URL",
            parse=text("a folder or a git URL"),
            action="append",
            help="fixture repository: a folder (watched for changes) or a git URL (https://, file://, ssh); "
            "repeat to layer sources, later ones adding and overriding cases; default: the embedded one",
        )
    )
    ref: str | None = field(
        default=None,
        metadata=option(
            "--ref",
            group=SYNC,
            parse=word("a branch, tag or commit"),
            help="branch, tag or commit to serve (default: the remote's HEAD)",
        ),
    )
    cache_dir: str = field(
        default_factory=lambda: str(default_cache_dir()),
        metadata=option(
            "--cache-dir",
            group=SYNC,
            parse=path_text,
            metavar="DIR",
            environment=CACHE_DIR_ENVIRONMENT,
            help="where clones, exported commits and parsed OpenAPI documents are kept; must be writable "
            "(also SANDBOX_CACHE_DIR; default: %(default)s)",
        ),
    )
    poll_s: float = field(
        default=60.0,
        metadata=option(
            "--poll",
            group=SYNC,
            parse=interval(1, MAX_POLL_S, zero="never"),
            metavar="SECONDS",
            help=f"fetch interval, 1 to {MAX_POLL_S}; 0: never (default: %(default)s)",
        ),
    )
    webhook_secret: str | None = field(
        default=None,
        metadata=option(
            "--webhook-secret",
            group=SYNC,
            parse=text("a secret"),
            metavar="SECRET",
            environment=WEBHOOK_SECRET_ENVIRONMENT,
            help="secret of the GitHub push webhook POST /__sandbox/webhook (also SANDBOX_WEBHOOK_SECRET)",
        ),
    )
    watch: bool = field(
        default=True,
        metadata=option(
            "--no-watch", group=SYNC, action="store_false", help="do not watch local folders nor poll remotes"
        ),
    )
    workers: int = field(
        default=1,
        metadata=option(
            "--workers",
            parse=bounded_int(1, MAX_WORKERS),
            metavar="N",
            process_only=True,
            help=f"worker processes, 1 to {MAX_WORKERS} (one of them fetches; default: %(default)s)",
        ),
    )
    shutdown_timeout: int = field(
        default=20,
        metadata=option(
            "--shutdown-timeout",
            parse=bounded_int(1, MAX_SHUTDOWN_TIMEOUT_S, "a number of seconds"),
            metavar="SECONDS",
            process_only=True,
            help="on SIGTERM, how long requests in flight may take to finish before they are cut "
            "(keep it below the orchestrator's grace period; default: %(default)s)",
        ),
    )
    validate_responses: bool = field(
        default=False,
        metadata=option(
            "--validate-responses",
            group=DIAGNOSTICS,
            action="store_true",
            help="check every answer against the OpenAPI schema of its status: X-Sandbox-Schema: "
            "valid|invalid|undocumented, details in the journal (GET /__sandbox/requests)",
        ),
    )
    journal_size: int = field(
        default=1000,
        metadata=option(
            "--journal-size",
            group=DIAGNOSTICS,
            parse=bounded_int(0, MAX_JOURNAL_SIZE),
            metavar="N",
            help=f"requests kept by the journal, GET /__sandbox/requests, 0 to {MAX_JOURNAL_SIZE} "
            "(default: %(default)s)",
        ),
    )
    host: str = field(  # the bind address: the admin routes are open on loopback only
        default="127.0.0.1",
        metadata=option(
            "--host",
            parse=word("an address, e.g. 127.0.0.1, ::1 or 0.0.0.0"),
            help="address to bind (default: %(default)s); on any non-loopback address the admin routes "
            "need the admin token (see 'admin access')",
        ),
    )
    port: int = field(
        default=8000,
        metadata=option(
            "--port",
            parse=bounded_int(0, 65535, "a port"),
            process_only=True,
            help="port to bind, 0: any free port (printed at start; default: %(default)s)",
        ),
    )
    max_url_bytes: int = field(
        default=DEFAULT_MAX_URL_BYTES,
        metadata=option(
            "--max-url-bytes",
            group=REQUEST_LIMITS,
            parse=bounded_int(1, _LARGEST),
            metavar="N",
            help="longest request target, path and query string (414 over it; default: %(default)s)",
        ),
    )
    max_header_bytes: int = field(
        default=DEFAULT_MAX_HEADER_BYTES,
        metadata=option(
            "--max-header-bytes",
            group=REQUEST_LIMITS,
            parse=bounded_int(1, _LARGEST),
            metavar="N",
            help="longest header line, `name: value` (431 over it; default: %(default)s)",
        ),
    )
    max_total_header_bytes: int = field(
        default=DEFAULT_MAX_TOTAL_HEADER_BYTES,
        metadata=option(
            "--max-total-header-bytes",
            group=REQUEST_LIMITS,
            parse=bounded_int(1, _LARGEST),
            metavar="N",
            help="all header lines together (431 over it; default: %(default)s)",
        ),
    )
    max_webhook_bytes: int = field(
        default=DEFAULT_MAX_WEBHOOK_BYTES,
        metadata=option(
            "--max-webhook-bytes",
            group=REQUEST_LIMITS,
            parse=bounded_int(1, _LARGEST),
            metavar="N",
            help="largest body of POST /__sandbox/webhook (413 over it; default: %(default)s)",
        ),
    )
    max_body_bytes: int = field(
        default=DEFAULT_MAX_BODY_BYTES,
        metadata=option(
            "--max-body-bytes",
            group=REQUEST_LIMITS,
            parse=bounded_int(1, _LARGEST),
            metavar="N",
            help="largest body of an API request, read only under a JSON Content-Type to check that it "
            "parses (413 over it; default: %(default)s)",
        ),
    )
    match: str = field(
        default=MatchMode.DOCUMENTED.value,
        metadata=option(
            "--match",
            choices=tuple(m.value for m in MatchMode),
            help="documented: a case answers to exactly the parameters it documents (default); "
            "staging: reproduce real staging's lookup, server-added keys included",
        ),
    )
    log_level: str = field(
        default="info",
        metadata=option("--log-level", choices=("critical", "error", "warning", "info", "debug"), process_only=True),
    )
    access_log: bool = field(
        default=False,
        metadata=option(
            "--access-log",
            action=argparse.BooleanOptionalAction,
            help="log every request: method, path and parameters (tokens redacted), operation, case, outcome, "
            "status, duration, revision, request id (default: off)",
        ),
    )
    log_format: str = field(
        default="text",
        metadata=option(
            "--log-format",
            choices=("text", "json"),
            process_only=True,
            help="text: timestamped lines on stderr (the load summary on stdout); json: one JSON object per "
            "line on stdout, load summary included (default: %(default)s)",
        ),
    )
    metrics: bool = field(
        default=True,
        metadata=option(
            "--no-metrics",
            group=DIAGNOSTICS,
            action="store_false",
            help="do not count requests nor serve GET /metrics (Prometheus text format; on by default)",
        ),
    )
    jwt_secrets: list[str] = field(
        default_factory=list,
        metadata=option(
            "--jwt-secret",
            group=CONTRACT,
            parse=text("a secret"),
            action="append",
            metavar="SECRET",
            environment=SECRET_ENVIRONMENT,
            help="accept tokens signed with SECRET (repeatable; also SANDBOX_JWT_SECRET, comma-separated). "
            "Tokens in the repository's tokens/ folder are always accepted.",
        ),
    )
    rate_limit: bool = field(
        default=True,
        metadata=option("--no-rate-limit", group=CONTRACT, action="store_false", help="do not apply the rate limits"),
    )
    check_scopes: bool = field(
        default=True,
        metadata=option(
            "--no-scope-check",
            group=CONTRACT,
            action="store_false",
            help="let any valid token call any operation (real staging checks the token's scopes)",
        ),
    )
    rate_limit_key: str = field(
        default="jti",
        metadata=option(
            "--rate-limit-key",
            group=CONTRACT,
            choices=("jti", "token"),
            help="count requests per token jti, like real staging (all shared tokens share one counter), "
            "or per raw token (default: %(default)s)",
        ),
    )
    maintenance: bool = field(
        default=False,
        metadata=option(
            "--maintenance",
            group=CONTRACT,
            action="store_true",
            help="apply the providers' maintenance windows (Europe/Paris time)",
        ),
    )
    france_connect_expiry: bool = field(
        default=False,
        metadata=option(
            "--france-connect-expiry",
            group=CONTRACT,
            action="store_true",
            help="refuse fake FranceConnect tokens whose introspection `exp` is in the past "
            "(off by default: the public fixtures carry the exp recorded with them)",
        ),
    )
    today: str | None = field(  # YYYY-MM-DD
        default=None,
        metadata=option(
            "--today",
            group=CONTRACT,
            parse=iso_date_text,
            metavar="YYYY-MM-DD",
            help="the date validation rules count from (age windows, year ranges); default: the real date",
        ),
    )
    prefer: bool = field(
        default=True,
        metadata=option(
            "--no-prefer",
            group=SCENARIOS,
            action="store_false",
            help="ignore the Prefer header: answer only what the real staging answers",
        ),
    )
    max_delay: float = field(
        default=DEFAULT_MAX_DELAY_S,
        metadata=option(
            "--max-delay",
            group=SCENARIOS,
            parse=interval(0, MAX_DELAY_S),
            metavar="SECONDS",
            help="longest delay a request may ask for (Prefer: delay=); how long fault=timeout holds a "
            "connection before closing it (default: %(default)s)",
        ),
    )
    latency: str | None = field(
        default=None,
        metadata=option(
            "--latency",
            group=SCENARIOS,
            parse=latency_text,
            metavar="MIN..MAX",
            help="delay every API answer by a uniform draw between MIN and MAX milliseconds, "
            "e.g. 50..400 (Prefer: delay= replaces the draw; default: none)",
        ),
    )
    seed: int | None = field(
        default=None,
        metadata=option(
            "--seed",
            group=SCENARIOS,
            parse=bounded_int(0, 2**63 - 1),
            metavar="N",
            help="seed of the --latency draws: the same seed gives the same delays in the same order",
        ),
    )
    profile: str = field(
        default="staging",
        metadata=option(
            "--profile",
            group=SCENARIOS,
            choices=PROFILES,
            help="staging: payloads whole, like the real staging (default); production: a 200 answer keeps "
            "only the attributes the token's scopes allow, like production",
        ),
    )
    max_case_bytes: int = field(
        default=DEFAULT_MAX_CASE_BYTES,
        metadata=option(
            "--max-case-bytes",
            group=FILE_LIMITS,
            parse=bounded_int(1, _LARGEST),
            metavar="BYTES",
            help="largest case file (also data/, tokens/, sandbox.yaml) (default: %(default)s)",
        ),
    )
    max_document_bytes: int = field(
        default=DEFAULT_MAX_DOCUMENT_BYTES,
        metadata=option(
            "--max-document-bytes",
            group=FILE_LIMITS,
            parse=bounded_int(1, _LARGEST),
            metavar="BYTES",
            help="largest OpenAPI document (default: %(default)s)",
        ),
    )
    max_alias_nodes: int = field(
        default=DEFAULT_MAX_ALIAS_NODES,
        metadata=option(
            "--max-alias-nodes",
            group=FILE_LIMITS,
            parse=bounded_int(1, _LARGEST),
            metavar="N",
            help="nodes YAML aliases may add to one file once expanded (default: %(default)s)",
        ),
    )
    max_nesting: int = field(
        default=DEFAULT_MAX_NESTING,
        metadata=option(
            "--max-nesting",
            group=FILE_LIMITS,
            parse=bounded_int(1, _LARGEST),
            metavar="N",
            help="levels of mappings and lists in one file, and in a case's JSON payload (default: %(default)s)",
        ),
    )
    admin_token: str | None = field(
        default=None,
        metadata=option(
            "--admin-token",
            group=ADMIN,
            metavar="TOKEN",
            environment=ADMIN_TOKEN_ENVIRONMENT,
            help="the admin token, at least 16 characters (also SANDBOX_ADMIN_TOKEN, preferred: a command "
            "line is visible to other users of the machine); without it, the admin routes of a non-loopback "
            "bind are refused to everyone",
        ),
    )
    metrics_public: bool = field(
        default=False,
        metadata=option(
            "--metrics-public",
            group=ADMIN,
            action="store_true",
            help="serve GET /metrics without the admin token, whatever the policy (a Prometheus scraper inside "
            "the cluster; keep /metrics out of any public ingress)",
        ),
    )
    admin_policy: str = field(  # auto | open | closed (sandbox.serve.access.PolicyMode)
        default="auto",
        metadata=option(
            "--admin-policy",
            group=ADMIN,
            choices=("auto", "open", "closed"),
            help="auto: open on a loopback bind, token required otherwise (default); closed: token required "
            "even on loopback (behind a reverse proxy on the same host); open: no token anywhere (a trusted "
            "network only)",
        ),
    )

    @property
    def limits(self) -> FileLimits:
        """The limits on one file of the repository: the `max_…` fields named after FileLimits' fields."""
        limits = dataclasses.fields(FileLimits)
        return FileLimits(**{limit.name: getattr(self, f"max_{limit.name}") for limit in limits})

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ServeConfig:
        """What `sandbox serve` was told: each field from the argument of the same name."""
        values: dict[str, Any] = {}
        for setting in dataclasses.fields(cls):
            value = getattr(args, setting.name)
            values[setting.name] = list(value) if isinstance(value, list) else value  # not argparse's default list
        return cls(**values)

    def to_environment(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_environment(cls) -> ServeConfig:
        return cls(**json.loads(os.environ[CONFIG_ENVIRONMENT]))


def flag_of(setting: dataclasses.Field[Any]) -> Flag:
    flag = setting.metadata[FLAG]
    assert isinstance(flag, Flag)
    return flag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `sandbox serve` arguments: one per field, in field order, each group made at its first field."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for setting in dataclasses.fields(ServeConfig):
        flag = flag_of(setting)
        container: argparse._ActionsContainer = parser
        if flag.group is not None:
            if flag.group not in groups:
                groups[flag.group] = parser.add_argument_group(*GROUPS[flag.group])
            container = groups[flag.group]
        container.add_argument(flag.option, dest=setting.name, default=_default(setting, flag), **flag.keywords())


def _default(setting: dataclasses.Field[Any], flag: Flag) -> Any:
    if setting.default is not dataclasses.MISSING:
        return setting.default
    if setting.default_factory is not dataclasses.MISSING:
        return setting.default_factory()
    return [] if flag.action == "append" else None  # required of a ServeConfig, optional on the command line
