"""`sandbox lint`: every contributor check of the fixture repository, and what the server would do.

The checks of the upstream repository (spec §9: safe YAML, JSON payload, allowed status,
description, no tracking parameters in API Entreprise cases, params and payload against
the OpenAPI document, duplicate params, FranceConnect introspection schema), plus what
they miss (§10.2 item 17): unknown parameter names, identifiers the server's own
validators refuse, cases no request can reach in the chosen match mode and why, cases
equal after normalisation, undocumented statuses, API Particulier folders without a
not-found case, FranceConnect cases no token produces, and date-dependent validity.

Reachability is not guessed: the request a client would send for a case is built and
run through the server's own validators (`sandbox.validation`) and key builder
(`sandbox.matching.KeyBuilder`), exactly as `sandbox serve` would. A FranceConnect case
is replayed from the identity it describes through `civility_parameters`.

Files that do not parse are findings, never crashes. Rule ids, severities and texts
(English and French) are data: `lint_messages.yaml`.
"""

from __future__ import annotations

import datetime
import difflib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema.exceptions
import yaml
from jsonschema import Draft4Validator

from sandbox.load.openapi import openapi_to_json_schema, operations_from_documents, query_value, resolve
from sandbox.load.repository import CASE_SUFFIXES, FRANCE_CONNECT_FOLDER, NOT_FOUND_FILE, Case, read_repository
from sandbox.load.repository_files import (
    Entry,
    FileLimits,
    RefusedFile,
    RepositoryTree,
    TooDeep,
    control_character,
    load_json,
    load_yaml,
)
from sandbox.rules.coercion import is_blank, to_s
from sandbox.rules.errors import ApiError
from sandbox.rules.franceconnect import DEFAULT_MAPPING, Identity, civility_parameters
from sandbox.rules.gone import gone_route
from sandbox.rules.matching import (
    NO_FACTS,
    KeyBuilder,
    KeySpec,
    LookupRule,
    MatchMode,
    RequestFacts,
    RuleBook,
    RuleError,
    Unmatchable,
    builtin_rulebook,
    canonical_key,
    is_empty,
    staging_mapping,
    strip_brackets,
    without_tracking,
)
from sandbox.rules.operations import TRACKING_PARAMETERS, Operation, Parameter
from sandbox.rules.tokens import FRANCE_CONNECT_UID, INTERNAL_JTI
from sandbox.rules.validation import Check, CnavLieuNaissanceCheck, MenSearchCheck, OperationChecks, build_checks
from sandbox.serve.franceconnect import FranceConnectSession

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

# Spec §9.1 item 3: the statuses the upstream checks allow (401 is the server's own).
ALLOWED_STATUSES = (200, 400, 403, 404, 409, 422, 429, 500, 502, 503, 504, 509)
ENTREPRISE_TRACKING = ("context", "recipient", "object")

# Findings that mean "this case, as written, is never answered by the server".
REACHABILITY_RULES = frozenset(
    {
        "unreachable",
        "gone-route",
        "invalid-identifier",
        "server-validation",
        "date-window",
        "duplicate-params",
        "duplicate-key",
        "tracking-parameter",
    }
)

_IDENTIFIER_KINDS = frozenset(
    {"siren", "siret", "siret_or_rna", "siret_or_eori", "siren_or_siret_or_rna", "siren_or_rna", "ine"}
)
# A request id the server would generate (a client-chosen one is read from the case's `request_id`).
_GENERATED_REQUEST_ID = "5f0e8d44-9c3b-4a57-9f43-2f6f5b7c1d20"
# The value a missing path parameter takes in a URL: any value the case does not give.
_PATH_PLACEHOLDER = "\x00missing"
# Years around `--today` tried to tell a date-dependent refusal from a permanent one.
_WINDOW_PAST, _WINDOW_FUTURE = 80, 15
_ANCHOR_HINT = re.compile(r"(?:^|[\s\[{,:-])[&*][^\s,\[\]{}]")
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.M)
_PARAM_KEY = re.compile(r"\s*(?:'((?:[^']|'')*)'|\"((?:[^\"\\]|\\.)*)\"|([^\s:#'\"][^:#]*?))\s*:(?:\s|$)")
_UNQUOTED_DATE = re.compile(r"^\s*(?:-\s+)?([^\s:#][^:#]*?)\s*:\s+(\d{4}-\d{1,2}-\d{1,2}(?:[Tt ][^#]*)?)\s*(?:#.*)?$")


# The FranceConnect introspection schema of the upstream checks (spec §9.3), written as data.
_NAME = {"type": "string", "minLength": 2}
FRANCE_CONNECT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["aud", "iat", "iss", "token_introspection"],
    "properties": {
        "aud": _NAME,
        "iat": {"type": "integer"},
        "iss": _NAME,
        "token_introspection": {
            "type": "object",
            "required": [
                "active",
                "aud",
                "sub",
                "iat",
                "exp",
                "acr",
                "jti",
                "scope",
                "gender",
                "family_name",
                "given_name",
                "given_name_array",
                "birthdate",
                "birthplace",
                "birthcountry",
            ],
            "properties": {
                "active": {"type": "boolean"},
                "aud": _NAME,
                "sub": _NAME,
                "iat": {"type": "integer"},
                "exp": {"type": "integer"},
                "acr": _NAME,
                "jti": _NAME,
                "scope": _NAME,
                "gender": {"type": "string", "enum": ["male", "female"]},
                "family_name": _NAME,
                "given_name": _NAME,
                "given_name_array": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "minLength": 1},
                },
                "birthdate": {"type": "string"},
                "birthplace": {"type": "string"},
                "birthcountry": {"type": "string"},
            },
        },
    },
}


# ---------------------------------------------------------------------------
# Findings and messages
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: where it is, which rule found it, what it means and how to fix it."""

    severity: str  # error | warning
    file: str  # relative to the repository root, `/`-separated
    line: int | None
    rule: str
    message: str
    hint: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "rule": self.rule,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass(frozen=True, slots=True)
class LintReport:
    root: str
    mode: MatchMode
    today: datetime.date
    lang: str
    findings: tuple[Finding, ...]
    files: int
    # FranceConnect cases → the tokens of payloads/france_connect whose identity reaches them
    france_connect_reach: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    def for_file(self, file: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.file == file)


@dataclass(frozen=True, slots=True)
class _RuleText:
    severity: str
    summary: Mapping[str, str]
    message: Mapping[str, str]
    hint: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Messages:
    rules: Mapping[str, _RuleText]
    reasons: Mapping[str, Mapping[str, str]]

    def reason(self, reason_id: str, lang: str, /, **args: Any) -> str:
        return _fill(self.reasons[reason_id][lang], args)

    def render(self, rule: str, lang: str, args: Mapping[str, Any]) -> tuple[str, str]:
        text = self.rules[rule]
        return _fill(text.message[lang], args), _fill(text.hint[lang], args)


class _Args(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(template: str, args: Mapping[str, Any]) -> str:
    return template.format_map(_Args(args))


@cache
def _messages() -> _Messages:
    text = resources.files("sandbox.tools").joinpath("lint_messages.yaml").read_text(encoding="utf-8")
    raw = yaml.load(text, Loader=yaml.CSafeLoader)
    rules = {
        str(rule_id): _RuleText(
            severity=str(body["severity"]),
            summary=dict(body["summary"]),
            message=dict(body["message"]),
            hint=dict(body["hint"]),
        )
        for rule_id, body in raw["rules"].items()
    }
    return _Messages(rules=rules, reasons={str(k): dict(v) for k, v in raw["reasons"].items()})


def rule_ids() -> dict[str, tuple[str, Mapping[str, str]]]:
    """Every rule id with its severity and its one-line summary (`en`, `fr`)."""
    return {rule_id: (text.severity, text.summary) for rule_id, text in _messages().rules.items()}


# Library messages (jsonschema, json, PyYAML, codecs) in French: the common ones.
_FRENCH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^(.*) is not of type (.*)$", r"\1 n'est pas du type \2"),
        (r"^(.*) is not one of (.*)$", r"\1 ne fait pas partie de \2"),
        (r"^(.*) is a required property$", r"la propriété \1 est obligatoire"),
        (r"^(.*) does not match (.*)$", r"\1 ne correspond pas au motif \2"),
        (r"^(.*) is too short$", r"\1 est trop court"),
        (r"^(.*) is too long$", r"\1 est trop long"),
        (r"^(.*) should be non-empty$", r"\1 ne doit pas être vide"),
        (r"^(.*) is less than the minimum of (.*)$", r"\1 est inférieur au minimum \2"),
        (r"^(.*) is greater than the maximum of (.*)$", r"\1 est supérieur au maximum \2"),
        (r"^(.*) is not valid under any of the given schemas$", r"\1 ne correspond à aucun des schémas possibles"),
        (r"^(.*) is valid under each of (.*)$", r"\1 correspond à plusieurs schémas à la fois"),
        (r"^Additional properties are not allowed \((.*)\)$", r"propriétés en trop interdites (\1)"),
        (r"^Expecting property name enclosed in double quotes$", "nom de propriété entre guillemets doubles attendu"),
        (r"^Expecting value$", "valeur attendue"),
        (r"^Expecting '(.)' delimiter$", r"séparateur « \1 » attendu"),
        (r"^Extra data$", "données en trop après le document JSON"),
        (r"^Unterminated string starting at$", "chaîne non terminée"),
        (r"^Invalid control character at$", "caractère de contrôle interdit dans une chaîne"),
        (r"^Invalid \\escape$", "séquence d'échappement invalide"),
        (
            r"^mapping values are not allowed (?:here|in this context)$",
            "« : » inattendu (une valeur de dictionnaire n'est pas permise ici)",
        ),
        (r"^found character '\\t' that cannot start any token$", "tabulation interdite (indentez avec des espaces)"),
        (r"^found undefined alias (.*)$", r"alias non défini \1"),
        (r"^could not determine a constructor for the tag (.*)$", r"tag inconnu \1"),
        (r"^'utf-8' codec can't decode byte (0x..) in position (\d+).*$", r"pas de l'UTF-8 (octet \1 en position \2)"),
        # sandbox.repository_files: what a hostile repository meets
        (r"^symbolic link leading outside the repository: not read$", "lien symbolique menant hors du dépôt : non lu"),
        (r"^symbolic link loop: not read$", "boucle de liens symboliques : non lu"),
        (r"^cannot be resolved: (.*)$", r"chemin introuvable : \1"),
        (r"^not a regular file: not read$", "pas un fichier ordinaire : non lu"),
        (
            r"^file of (\d+) bytes, over the limit of (\d+) bytes \((.*)\): not read$",
            r"fichier de \1 octets, au-delà de la limite de \2 octets (\3) : non lu",
        ),
        (
            r"^aliases expand the document by (\d+) nodes, over the limit of (\d+) \((.*)\)$",
            r"les alias ajoutent \1 nœuds au document, au-delà de la limite de \2 (\3)",
        ),
        (
            r"^an alias refers to a node that contains it \(infinite expansion\)$",
            "un alias désigne un nœud qui le contient (expansion infinie)",
        ),
        (
            r"^name holding the control character (U\+[0-9A-F]{4}), which no HTTP header can carry.*$",
            r"nom contenant le caractère de contrôle \1, qu'aucun en-tête HTTP ne peut porter",
        ),
    )
)


def _localised(detail: str, lang: str) -> str:
    if lang != "fr":
        return detail
    for pattern, replacement in _FRENCH:
        if pattern.match(detail):
            return pattern.sub(replacement, detail)
    return detail


# ---------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------


def _schema_errors(
    validator: Draft4Validator, instance: Any, lang: str = "en", limit: int = 3
) -> tuple[list[str], int]:
    try:
        errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.UnknownType) as unusable:
        return [f"(schema unusable: {str(unusable).splitlines()[0]})"], 1
    shown = []
    for error in errors[:limit]:
        pointer = "/" + "/".join(str(p) for p in error.absolute_path)
        message = _localised(error.message, lang)
        message = message if len(message) <= 160 else message[:157] + "…"
        shown.append(f"{pointer} : {message}" if lang == "fr" else f"{pointer}: {message}")
    return shown, len(errors)


# ---------------------------------------------------------------------------
# Reading one file
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class _File:
    folder: str
    name: str
    rel: str
    text: str
    data: Any = None
    lines: dict[str, int] = field(default_factory=dict)
    param_lines: dict[str, int] = field(default_factory=dict)
    case: Case | None = None
    failed: bool = False  # unreadable or not YAML: already reported, nothing more to check


def _key_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for match in _TOP_KEY.finditer(text):
        lines.setdefault(match.group(1), text.count("\n", 0, match.start()) + 1)
    return lines


def _param_lines(text: str, params_line: int | None) -> dict[str, int]:
    """1-based line of each key of the `params:` block (block style; flow style gives none)."""
    found: dict[str, int] = {}
    if params_line is None:
        return found
    lines = text.split("\n")
    indent: int | None = None
    for index in range(params_line, len(lines)):
        line = lines[index]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current = len(line) - len(line.lstrip(" "))
        if current == 0:
            break
        if indent is None:
            indent = current
        if current != indent:
            continue
        match = _PARAM_KEY.match(line)
        if match:
            quoted, double, plain = match.groups()
            name = quoted.replace("''", "'") if quoted is not None else double if double is not None else plain
            found.setdefault(name, index + 1)
    return found


def _yaml_line(error: Exception) -> int | None:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return int(mark.line) + 1 if mark is not None else None


def _yaml_detail(error: Exception) -> str:
    problem = getattr(error, "problem", None)
    context = getattr(error, "context", None)
    if isinstance(problem, str):
        return f"{context} {problem}" if isinstance(context, str) else problem
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _contains_date(value: Any) -> bool:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return True
    if isinstance(value, dict):
        return any(_contains_date(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_date(v) for v in value)
    return False


# ---------------------------------------------------------------------------
# Request simulation
# ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    return to_s(value)


def _sent(value: Any) -> Any:
    """A case value as a query string carries it: text, or a list of texts (`k[]=…`)."""
    if isinstance(value, list):
        return [_text(v) for v in value]
    return _text(value)


def _shown(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    text = _text(value)
    return text if text else '""'


def _entry(name: str, value: Any) -> str:
    return canonical_key({name: value}, drop_blank=False)


def _invert(params: Mapping[str, Any], mapping: Mapping[str, str]) -> Identity:
    """The FranceConnect identity that would produce `params` through `mapping` (best effort)."""
    fields = {"family_name": "", "given_name": "", "birthdate": "", "gender": "", "birthplace": "", "birthcountry": ""}
    parts = ["", "", ""]
    for name, expression in mapping.items():
        value = params.get(name, params.get(name + "[]"))
        if value is None:
            continue
        if expression == "family_name":
            fields["family_name"] = _text(value)
        elif expression in ("given_names", "given_name", "first_given_name"):
            fields["given_name"] = " ".join(_text(v) for v in value) if isinstance(value, list) else _text(value)
        elif expression == "given_names_comma":
            fields["given_name"] = " ".join(part.strip() for part in _text(value).split(","))
        elif expression in ("birth_year", "birth_month", "birth_day"):
            parts[("birth_year", "birth_month", "birth_day").index(expression)] = _text(value)
        elif expression == "birthdate":
            fields["birthdate"] = _text(value)
        elif expression == "birthdate_fr":
            fields["birthdate"] = "-".join(reversed(_text(value).split("/")))
        elif expression == "gender":
            fields["gender"] = _text(value)
        elif expression == "gender_letter":
            letter = _text(value).upper()
            fields["gender"] = "male" if letter == "M" else "female" if letter == "F" else ""
        elif expression in ("birthplace", "birthplace_or_empty"):
            fields["birthplace"] = _text(value)
        elif expression == "birthcountry":
            fields["birthcountry"] = _text(value)
    if any(parts):
        widths = (4, 2, 2)
        fields["birthdate"] = "-".join(p.zfill(w) if p.isdigit() else p for p, w in zip(parts, widths, strict=True))
    return Identity(**fields)


def _describe_identity(identity: Identity) -> str:
    items = [
        ("family_name", identity.family_name),
        ("given_name", identity.given_name),
        ("birthdate", identity.birthdate),
        ("gender", identity.gender),
        ("birthplace", identity.birthplace),
        ("birthcountry", identity.birthcountry),
    ]
    return ", ".join(f"{k}={v}" for k, v in items if v)


@dataclass(slots=True)
class _Context:
    """What the server knows about one operation, built the way the snapshot builds it."""

    operation: Operation
    rule: LookupRule
    keys: KeyBuilder
    checks: OperationChecks
    identity: Mapping[str, str] | None
    declared: Mapping[str, Parameter]
    declared_query: frozenset[str]
    known: frozenset[str]
    path_params: tuple[str, ...]
    gone: bool
    validators: dict[str, Draft4Validator | None] = field(default_factory=dict)

    @property
    def france_connect_only_names(self) -> frozenset[str]:
        """Identity parameters no plain request carries (v2 routes that also take FranceConnect)."""
        if self.identity is None:
            return frozenset()
        return frozenset(self.identity) - frozenset(self.declared)


@dataclass(slots=True)
class _Attempt:
    via: str  # request | france_connect
    checked: dict[str, Any]
    request_id: str | None
    errors: list[ApiError]
    reachable: bool
    reasons: list[str]
    missing_path: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reachable and not self.errors


# ---------------------------------------------------------------------------
# The linter
# ---------------------------------------------------------------------------


class _Linter:
    def __init__(
        self, root: Path, mode: MatchMode, today: datetime.date, lang: str, limits: FileLimits | None = None
    ) -> None:
        self.root = root
        self.tree = RepositoryTree(root, limits)
        self.mode = mode
        self.today = today
        self.lang = lang
        self.messages = _messages()
        self.findings: list[Finding] = []
        self.files = 0
        self.reach: dict[str, tuple[str, ...]] = {}
        self.tokens: list[tuple[str, Identity]] = []

    # -- output -----------------------------------------------------------------------

    def add(self, rule: str, file: str, line: int | None, **args: Any) -> None:
        message, hint = self.messages.render(rule, self.lang, args)
        severity = self.messages.rules[rule].severity
        self.findings.append(Finding(severity, file, line, rule, message, hint))

    def reason(self, reason_id: str, /, **args: Any) -> str:
        return self.messages.reason(reason_id, self.lang, **args)

    # -- the run ----------------------------------------------------------------------

    def run(self) -> LintReport:
        content = read_repository(self.root, limits=self.tree.limits)
        problems = [p for p in content.problems if not p.path.startswith("payloads/")]
        operations = operations_from_documents(content.documents, problems)
        for problem in problems:
            self.add("repository-problem", problem.path, problem.line, detail=problem.reason)
        book = builtin_rulebook()
        try:
            book = book.extended(content.lookup_rules, "sandbox.yaml")
        except RuleError as error:
            self.add("repository-problem", "sandbox.yaml", None, detail=str(error))
        checks = build_checks()
        cases = {(case.folder, case.file): case for cases in content.folders.values() for case in cases}
        folders = self._entries(self.root / "payloads", "payloads", lambda entry: not entry.name.startswith("."))
        self._france_connect_tokens(content.folders.get(FRANCE_CONNECT_FOLDER, []))
        france_connect_paths = {
            op.path for op in operations.values() if book.accepts_france_connect(op.id) or op.is_france_connect
        }
        for folder in folders:
            if not folder.is_folder:
                continue
            rel = f"payloads/{folder.name}"
            wanted = self._entries(folder.path, rel, lambda entry: entry.name.endswith(CASE_SUFFIXES))
            files = [self._read(folder.name, entry, cases) for entry in wanted if entry.is_file]
            if folder.name == FRANCE_CONNECT_FOLDER:
                self._france_connect_folder(files, france_connect_paths)
                continue
            operation = operations.get(folder.name)
            if operation is None:
                close = difflib.get_close_matches(folder.name, list(operations), n=1, cutoff=0.8)
                suggestion = self.reason("did-you-mean", name=close[0]) if close else ""
                self.add(
                    "folder-without-operation",
                    f"payloads/{folder.name}",
                    None,
                    folder=folder.name,
                    suggestion=suggestion,
                )
                for file in files:
                    self._structure(file, None)
                continue
            context = self._context(operation, book, checks, [f.case for f in files if f.case is not None])
            self._operation_folder(context, files)
        self.findings.sort(key=lambda f: (f.file, f.line or 0, f.rule, f.message))
        return LintReport(
            root=str(self.root),
            mode=self.mode,
            today=self.today,
            lang=self.lang,
            findings=tuple(self.findings),
            files=self.files,
            france_connect_reach=dict(self.reach),
        )

    def _entries(self, folder: Path, rel: str, wanted: Callable[[Entry], bool]) -> list[Entry]:
        """The wanted names of a folder of the repository; links leading outside it are findings."""
        try:
            if self.tree.folder(folder) is None:
                return []
            entries = [entry for entry in self.tree.entries(folder) if wanted(entry)]
        except (OSError, RefusedFile) as error:
            self.add("unreadable-file", rel, None, detail=_localised(str(error), self.lang))
            return []
        for entry in entries:
            if entry.refused is not None:
                self.add("unreadable-file", f"{rel}/{entry.name}", None, detail=_localised(entry.refused, self.lang))
        return entries

    def _read(self, folder: str, entry: Entry, cases: Mapping[tuple[str, str], Case]) -> _File:
        self.files += 1
        rel = f"payloads/{folder}/{entry.name}"
        try:
            if (character := control_character(entry.name)) is not None:
                raise RefusedFile(f"name holding the control character {character}, which no HTTP header can carry")
            limit = self.tree.limits.case_bytes
            text = self.tree.read_text(entry.path, limit, "--max-case-bytes")
        except (OSError, UnicodeDecodeError, RefusedFile) as error:
            self.add("unreadable-file", rel, None, detail=_localised(str(error).splitlines()[0], self.lang))
            return _File(folder, entry.name, rel, "", failed=True)
        file = _File(folder, entry.name, rel, text)
        file.case = cases.get((folder, entry.name))
        file.lines = dict(file.case.lines) if file.case is not None else _key_lines(text)
        try:
            document = load_yaml(text, self.tree.limits)
        except (yaml.YAMLError, RecursionError) as error:
            self.add("invalid-yaml", rel, _yaml_line(error), detail=_localised(_yaml_detail(error), self.lang))
            file.case = None
            file.failed = True
            return file
        file.data = document.data
        for line, key in document.duplicates:
            self.add("yaml-duplicate-key", rel, line, key=key)
        file.param_lines = _param_lines(text, file.lines.get("params"))
        self._yaml_safety(file)
        return file

    def _yaml_safety(self, file: _File) -> None:
        """What Ruby's safe loader refuses and PyYAML's accepts: anchors, aliases, dates."""
        if _ANCHOR_HINT.search(file.text):
            try:
                for event in yaml.parse(file.text, Loader=yaml.CSafeLoader):
                    if isinstance(event, yaml.AliasEvent):  # an anchor alone loads; its alias does not
                        mark = event.start_mark.line + 1 if event.start_mark is not None else None
                        self.add("yaml-alias", file.rel, mark, name=f"*{event.anchor}")
            except yaml.YAMLError:
                pass
        if _contains_date(file.data):
            reported = False
            for number, line in enumerate(file.text.split("\n"), start=1):
                match = _UNQUOTED_DATE.match(line)
                if match and not match.group(1).startswith(("'", '"')):
                    self.add("yaml-date", file.rel, number, key=match.group(1), value=match.group(2).strip())
                    reported = True
            if not reported:
                self.add("yaml-date", file.rel, file.lines.get("params"), key="params", value="…")

    # -- structure (spec §9.1 items 2-5) ------------------------------------------------

    def _structure(self, file: _File, operation: Operation | None) -> bool:
        """Structural checks; True when the server loads the case (a `Case` exists)."""
        if file.failed:
            return False
        data = file.data
        if not isinstance(data, dict):
            self.add("invalid-case", file.rel, 1, detail=self.reason("not-a-mapping"))
            return False
        lines = file.lines
        params = data.get("params")
        if not isinstance(params, dict):
            self.add("invalid-case", file.rel, lines.get("params", 1), detail=self.reason("params-not-a-mapping"))
        status = data.get("status")
        if isinstance(status, bool) or not isinstance(status, int):
            self.add(
                "invalid-case", file.rel, lines.get("status", 1), detail=self.reason("status-not-integer", value=status)
            )
        elif status not in ALLOWED_STATUSES:
            allowed = ", ".join(str(s) for s in ALLOWED_STATUSES)
            self.add("status-not-allowed", file.rel, lines.get("status"), status=status, allowed=allowed)
        self._payload(file, data)
        if is_blank(data.get("description")) or not isinstance(data.get("description"), str):
            self.add("missing-description", file.rel, lines.get("description", 1))
        is_entreprise = file.folder.startswith("api_entreprise") or (
            operation is not None and operation.api == "entreprise"
        )
        if is_entreprise and isinstance(params, dict):
            for name in params:
                if str(name) in ENTREPRISE_TRACKING:
                    self.add("tracking-parameter", file.rel, self._param_line(file, str(name)), name=name)
        return file.case is not None

    def _payload(self, file: _File, data: Mapping[str, Any]) -> Any:
        raw = data.get("payload")
        line = file.lines.get("payload", 1)
        if not isinstance(raw, str):
            self.add("payload-not-json", file.rel, line, detail=self.reason("payload-missing"))
            return None
        try:
            return load_json(raw, self.tree.limits)
        except TooDeep:
            self.add("payload-not-json", file.rel, line, detail=self.reason("json-too-deep"))
            return None
        except json.JSONDecodeError as error:
            message = _localised(error.msg, self.lang)
            detail = self.reason("json-error", error=message, line=error.lineno, column=error.colno)
            self.add("payload-not-json", file.rel, line + error.lineno, detail=detail)
            return None

    @staticmethod
    def _param_line(file: _File, name: str) -> int | None:
        return file.param_lines.get(name) or file.lines.get("params")

    # -- operations -------------------------------------------------------------------

    def _context(self, operation: Operation, book: RuleBook, checks: Any, cases: Sequence[Case]) -> _Context:
        rule = book.rule_for(operation)
        keys = KeyBuilder.for_operation(operation, rule, self.mode, (name for case in cases for name in case.params))
        identity = book.identity_mapping(operation.id) if book.accepts_france_connect(operation.id) else None
        declared = {p.key: p for p in operation.lookup_parameters()}
        rule_keys = {spec.key for variant in rule.variants for spec in variant.keys}
        known = set(declared) | rule_keys | set(identity or ())
        if operation.api == "particulier":
            known |= {p.key for p in operation.parameters if p.location == "query"}
        return _Context(
            operation=operation,
            rule=rule,
            keys=keys,
            checks=checks.for_operation(operation.id),
            identity=identity,
            declared=declared,
            declared_query=frozenset(p.key for p in operation.lookup_parameters() if p.location == "query"),
            known=frozenset(known),
            path_params=tuple(p.key for p in operation.parameters if p.location == "path"),
            gone=gone_route(operation.path, operation.api) is not None,
        )

    def _operation_folder(self, context: _Context, files: Sequence[_File]) -> None:
        operation = context.operation
        loaded: list[_File] = []
        for file in files:
            if self._structure(file, operation) and file.case is not None:
                loaded.append(file)
        for file in loaded:
            assert file.case is not None
            self._parameters(context, file, file.case)
            self._response(context, file, file.case)
            self._reachability(context, file, file.case)
        self._duplicates(context, loaded)
        if operation.api == "particulier" and not any(f.name == NOT_FOUND_FILE for f in files):
            self.add("missing-not-found-case", f"payloads/{operation.id}", None, folder=operation.id)

    def _parameters(self, context: _Context, file: _File, case: Case) -> None:
        known = sorted(context.known)
        for raw_name, value in case.params.items():
            name = str(raw_name)
            key = strip_brackets(name)
            if name in ENTREPRISE_TRACKING and context.operation.api == "entreprise":
                continue
            line = self._param_line(file, name)
            if key not in context.known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                suggestion = self.reason("did-you-mean", name=close[0]) if close else ""
                listing = ", ".join(known) if known else "—"
                self.add(
                    "unknown-parameter",
                    file.rel,
                    line,
                    name=name,
                    operation=context.operation.id,
                    suggestion=suggestion,
                    known=listing,
                )
                continue
            parameter = context.declared.get(key)
            if parameter is None:
                continue
            for detail in self._parameter_problems(context, parameter, value):
                self.add("parameter-schema", file.rel, line, name=name, detail=detail)

    def _parameter_problems(self, context: _Context, parameter: Parameter, value: Any) -> list[str]:
        schema = resolve(parameter.schema, context.operation.components)
        schema = dict(schema) if isinstance(schema, dict) else {}
        if parameter.is_array and "type" not in schema:
            schema["type"] = "array"
        if parameter.is_array and not isinstance(value, list):
            return [self.reason("scalar-for-list", name=parameter.key)]
        validator = context.validators.get("param:" + parameter.key)
        if validator is None:
            validator = Draft4Validator(openapi_to_json_schema(schema, context.operation.components))
            context.validators["param:" + parameter.key] = validator
        instance = query_value(value, schema)
        return [_localised(e.message, self.lang) for e in validator.iter_errors(instance)]

    def _response(self, context: _Context, file: _File, case: Case) -> None:
        operation = context.operation
        responses = operation.responses
        status = str(case.status)
        if status not in responses and f"{status[0]}XX" not in responses and "default" not in responses:
            documented = ", ".join(sorted(responses))
            self.add(
                "status-not-documented",
                file.rel,
                file.lines.get("status"),
                status=status,
                operation=operation.id,
                documented=documented,
            )
            return
        key = "status:" + status
        if key not in context.validators:
            schema = responses.get(status)
            context.validators[key] = (
                Draft4Validator(openapi_to_json_schema(schema, operation.components)) if schema else None
            )
        validator = context.validators[key]
        if validator is None:
            return
        shown, total = _schema_errors(validator, case.payload, self.lang)
        if shown:
            detail = "; ".join(shown) + (f" (+{total - len(shown)})" if total > len(shown) else "")
            self.add("payload-schema", file.rel, file.lines.get("payload"), status=status, detail=detail)

    # -- reachability -------------------------------------------------------------------

    def _reachability(self, context: _Context, file: _File, case: Case) -> None:
        operation = context.operation
        if context.gone:
            self.add("gone-route", file.rel, file.lines.get("params"), path=operation.path)
            return
        attempts = self._attempts(context, case)
        success = next((a for a in attempts if a.ok), None)
        if success is not None:
            self._expiring(context, file, success)
            if success.via == "france_connect":
                # 404.yaml is also every miss's answer: it is served even when no token has its identity
                self._token_coverage(context, file, case, report=case.file != NOT_FOUND_FILE)
            return
        primary = attempts[0]
        self._validation_findings(context, file, case, primary)
        if not primary.reachable and primary.reasons:
            self.add(
                "unreachable",
                file.rel,
                file.lines.get("params"),
                mode=self.mode.value,
                reasons="; ".join(primary.reasons),
            )

    def _attempts(self, context: _Context, case: Case) -> list[_Attempt]:
        if context.identity is None:
            return [self._direct(context, case)]
        only = context.france_connect_only_names
        names = {strip_brackets(str(n)) for n in case.params}
        if context.operation.is_france_connect or names & only:
            return [self._france_connect(context, case)]
        return [self._direct(context, case), self._france_connect(context, case)]

    def _direct(self, context: _Context, case: Case) -> _Attempt:
        params = case.params
        staging = self.mode is MatchMode.STAGING
        request: dict[str, Any] = {}
        for raw_name, value in params.items():
            name = str(raw_name)
            if name.endswith("[]"):
                request[name[:-2]] = _sent(value if isinstance(value, list) else [value])
            else:
                request[name] = _sent(value)
        if staging:
            for spec in self._param_specs(context.rule):
                if spec.key not in params or params[spec.key] is None:
                    continue
                value = params[spec.key]
                if spec.param != spec.key and spec.param not in params:
                    request[spec.param] = _sent(value)
                if spec.kind == "list" and not isinstance(value, list):
                    request[spec.param] = [_text(value)]
                elif spec.kind == "words" and isinstance(value, list):
                    request[spec.param] = " ".join(_text(v) for v in value)
        checked = dict(request)
        missing: list[str] = []
        for name in context.path_params:
            if is_blank(request.get(name)):
                missing.append(name)
                request[name] = _PATH_PLACEHOLDER
        request_id = _text(params["request_id"]) if not is_blank(params.get("request_id")) else None
        errors = context.checks.errors(checked, today=self.today, request_id=request_id)
        errors = [
            e for e in errors if not set(self._error_parameters(context, checked, e)) <= set(missing) or not missing
        ]
        lookup = without_tracking(request) if staging else request
        facts = self._facts(context, params, request_id, france_connect=False)
        reachable, reasons = self._compare(context, params, lookup, facts, "request", tuple(missing))
        return _Attempt("request", checked, request_id, errors, reachable, reasons, tuple(missing))

    def _france_connect(self, context: _Context, case: Case) -> _Attempt:
        assert context.identity is not None
        mapping = context.identity
        params = case.params
        usable = context.declared_query - set(mapping)
        declared = {strip_brackets(str(k)): _sent(v) for k, v in params.items() if strip_brackets(str(k)) in usable}
        identity = _invert(params, mapping)
        civility = civility_parameters(identity, DEFAULT_MAPPING)
        checked = {**declared, **{k: v if isinstance(v, (str, list)) else str(v) for k, v in civility.items()}}
        looked = {**declared, **civility_parameters(identity, mapping)}
        errors = context.checks.errors(checked, today=self.today, request_id=None)
        lookup = without_tracking(looked) if self.mode is MatchMode.STAGING else looked
        facts = self._facts(context, params, None, france_connect=True)
        reachable, reasons = self._compare(context, params, lookup, facts, "france_connect", ())
        return _Attempt("france_connect", checked, None, errors, reachable, reasons)

    @staticmethod
    def _param_specs(rule: LookupRule) -> list[KeySpec]:
        return [spec for variant in rule.variants for spec in variant.keys if spec.source == "param"]

    def _facts(
        self, context: _Context, params: Mapping[str, Any], request_id: str | None, *, france_connect: bool
    ) -> RequestFacts:
        if not context.keys.needs_facts:
            return NO_FACTS
        uid = FRANCE_CONNECT_UID if france_connect else _text(params.get("user_id") or INTERNAL_JTI)
        jti = FRANCE_CONNECT_UID if france_connect else _text(params.get("token_id") or INTERNAL_JTI)
        return RequestFacts(
            token_uid=uid,
            token_jti=jti,
            request_id=request_id or _GENERATED_REQUEST_ID,
            api_version=context.operation.version_number,
        )

    def _compare(
        self,
        context: _Context,
        params: Mapping[str, Any],
        lookup: Mapping[str, Any],
        facts: RequestFacts,
        via: str,
        missing: tuple[str, ...],
    ) -> tuple[bool, list[str]]:
        try:
            key: str | None = context.keys.request_key(lookup, facts)
        except Unmatchable:
            key = None
        case_key = context.keys.case_key(params)
        if key == case_key:
            return True, []
        return False, self._explain(context, params, lookup, facts, via, missing, key, case_key)

    def _explain(
        self,
        context: _Context,
        params: Mapping[str, Any],
        lookup: Mapping[str, Any],
        facts: RequestFacts,
        via: str,
        missing: tuple[str, ...],
        key: str | None,
        case_key: str,
    ) -> list[str]:
        france_connect = via == "france_connect"
        specs: dict[str, KeySpec] = {}
        if self.mode is MatchMode.STAGING:
            variant = context.rule.variant_for(lookup)
            specs = {spec.key: spec for spec in variant.keys}
            try:
                built = staging_mapping(variant, lookup, facts)
            except Unmatchable as error:
                return [self.reason("unmatchable", detail=str(error))]
            wanted: dict[str, Any] = {str(k): v for k, v in params.items()}
        else:
            built = {k: v for k, v in context.keys.documented_mapping(lookup).items() if not is_empty(v)}
            wanted = {strip_brackets(str(k)): v for k, v in params.items() if not is_empty(v)}
        reasons: list[str] = []
        for name, value in wanted.items():
            if name in built:
                if _entry(name, value) != _entry(name, built[name]):
                    reasons.append(self._differs(name, value, built[name], france_connect))
                continue
            spec = specs.get(name)
            if spec is not None and spec.only_if is not None:
                condition, expected = spec.only_if
                if _text(lookup.get(condition)).lower() != expected:
                    reasons.append(self.reason("only-if", name=name, condition=condition, value=expected))
                    continue
            if spec is not None and spec.requires and any(built.get(r) is None for r in spec.requires):
                required = next(r for r in spec.requires if built.get(r) is None)
                reasons.append(self.reason("requires", name=name, required=required))
            elif name in TRACKING_PARAMETERS:
                if not (context.operation.api == "entreprise" and name in ENTREPRISE_TRACKING):
                    reasons.append(self.reason("tracking-never-read", name=name))  # else: `tracking-parameter`
            elif france_connect and (spec is not None or self.mode is MatchMode.DOCUMENTED):
                reasons.append(self.reason("fc-never-provides", name=name))
            else:
                reasons.append(self.reason("never-read", name=name))
        for name, value in built.items():
            if name in wanted:
                continue
            spec = specs.get(name)
            if name in missing:
                reasons.append(self.reason("missing-path-parameter", name=name))
            elif spec is not None and spec.injected:
                reasons.append(self.reason("injected", name=name, source=self._source(spec, context, value)))
            elif value is None:
                reasons.append(self.reason("always-sent", name=name))
            elif france_connect:
                reasons.append(self.reason("fc-always-provides", name=name, value=_shown(value)))
            else:
                reasons.append(self.reason("server-sends", name=name, value=_shown(value)))
        if not reasons and not any(n in ENTREPRISE_TRACKING for n in wanted):
            reasons.append(self.reason("key-differs", expected=key or "—", actual=case_key))
        return reasons

    def _source(self, spec: KeySpec, context: _Context, value: Any) -> str:
        if spec.source == "param":
            return self.reason("source-default", value=spec.default)
        return self.reason(f"source-{spec.source}", value=_shown(value))

    def _differs(self, name: str, wanted: Any, built: Any, france_connect: bool) -> str:
        if isinstance(built, list) and not isinstance(wanted, list):
            return self.reason("scalar-for-list", name=name)
        if isinstance(built, int) and not isinstance(built, bool):
            return self.reason("integer-form", name=name, expected=built, actual=_shown(wanted))
        kind = "fc-value-differs" if france_connect else "value-differs"
        return self.reason(kind, name=name, expected=_shown(built), actual=_shown(wanted))

    # -- validation findings ------------------------------------------------------------

    def _error_parameters(self, context: _Context, params: Mapping[str, Any], error: ApiError) -> tuple[str, ...]:
        rule = context.checks.rule
        if rule is not None:
            for check in rule.variant_for(params).checks:
                names = check_parameters(check).get(error.code)
                if names:
                    return names
        if error.source and "parameter" in error.source:
            return (error.source["parameter"],)
        return ()

    def _codes(self, context: _Context, attempt: _Attempt, today: datetime.date) -> set[str]:
        errors = context.checks.errors(attempt.checked, today=today, request_id=attempt.request_id)
        return {e.code for e in errors}

    def _validation_findings(self, context: _Context, file: _File, case: Case, attempt: _Attempt) -> None:
        seen: set[tuple[str, str]] = set()
        status = 400 if context.operation.is_v2 else 422
        years: dict[int, set[str]] | None = None
        for error in attempt.errors:
            names = self._error_parameters(context, attempt.checked, error)
            name = " / ".join(names) if names else "?"
            if (error.code, name) in seen:
                continue
            seen.add((error.code, name))
            present = [n for n in names if n in case.params or n + "[]" in case.params]
            line = self._param_line(file, present[0]) if present else file.lines.get("params")
            check = self._check_for(context, attempt.checked, error.code)
            if check is not None and getattr(check, "kind", "") in _IDENTIFIER_KINDS:
                value = _shown(case.params.get(names[0])) if names else ""
                self.add(
                    "invalid-identifier", file.rel, line, name=name, value=value, code=error.code, detail=error.detail
                )
                continue
            if years is None:
                years = self._codes_by_year(context, attempt)
            valid_years = sorted(y for y, codes in years.items() if error.code not in codes)
            if valid_years:
                window = self.reason("window-years", first=valid_years[0], last=valid_years[-1])
                self.add(
                    "date-window",
                    file.rel,
                    line,
                    name=name,
                    today=self.today.isoformat(),
                    status=status,
                    code=error.code,
                    detail=error.detail,
                    window=window,
                )
                continue
            self.add(
                "server-validation", file.rel, line, name=name, status=status, code=error.code, detail=error.detail
            )

    def _codes_by_year(self, context: _Context, attempt: _Attempt) -> dict[int, set[str]]:
        result: dict[int, set[str]] = {}
        for year in range(self.today.year - _WINDOW_PAST, self.today.year + _WINDOW_FUTURE + 1):
            if year == self.today.year:
                continue
            when = datetime.date(year, self.today.month, min(self.today.day, 28))
            result[year] = self._codes(context, attempt, when)
        return result

    def _check_for(self, context: _Context, params: Mapping[str, Any], code: str) -> Check | None:
        rule = context.checks.rule
        if rule is None:
            return None
        return next((c for c in rule.variant_for(params).checks if code in c.codes()), None)

    def _expiring(self, context: _Context, file: _File, attempt: _Attempt) -> None:
        if context.checks.is_empty:
            return
        horizon = self.today + datetime.timedelta(days=365)
        later = context.checks.errors(attempt.checked, today=horizon, request_id=attempt.request_id)
        if not later:
            return
        low, high = self.today, horizon  # valid at low, invalid at high
        while (high - low).days > 1:
            middle = low + (high - low) / 2
            if self._codes(context, attempt, middle):
                high = middle
            else:
                low = middle
        first = context.checks.errors(attempt.checked, today=high, request_id=attempt.request_id)[0]
        names = self._error_parameters(context, attempt.checked, first)
        present = [n for n in names if n in attempt.checked]
        line = self._param_line(file, present[0]) if present else file.lines.get("params")
        self.add(
            "date-window-expiring",
            file.rel,
            line,
            name=" / ".join(names) or "?",
            date=high.isoformat(),
            code=first.code,
            detail=first.detail,
        )

    # -- FranceConnect -------------------------------------------------------------------

    def _france_connect_tokens(self, cases: Sequence[Case]) -> None:
        for case in cases:
            token = case.params.get("token")
            if not isinstance(token, str) or not isinstance(case.payload, dict):
                continue
            session = FranceConnectSession.from_case(case)
            if not session.usable(0, check_expiry=False):
                continue
            self.tokens.append((token, session.identity()))

    def _token_coverage(self, context: _Context, file: _File, case: Case, *, report: bool) -> None:
        assert context.identity is not None
        mapping = context.identity
        usable = context.declared_query - set(mapping)
        declared = {
            strip_brackets(str(k)): _sent(v) for k, v in case.params.items() if strip_brackets(str(k)) in usable
        }
        case_key = context.keys.case_key(case.params)
        facts = self._facts(context, case.params, None, france_connect=True)
        reached = []
        for token, identity in self.tokens:
            looked = {**declared, **civility_parameters(identity, mapping)}
            lookup = without_tracking(looked) if self.mode is MatchMode.STAGING else looked
            try:
                key = context.keys.request_key(lookup, facts)
            except Unmatchable:
                continue
            if key != case_key:
                continue
            civility = civility_parameters(identity, DEFAULT_MAPPING)
            checked = {**declared, **{k: v if isinstance(v, (str, list)) else str(v) for k, v in civility.items()}}
            if not context.checks.errors(checked, today=self.today):
                reached.append(token)
        self.reach[f"{case.folder}/{case.file}"] = tuple(reached)
        if reached or not report:
            return
        wanted = _invert(case.params, mapping)
        described = _describe_identity(wanted)
        nearest = ""
        if self.tokens:
            scored = max(
                self.tokens,
                key=lambda item: difflib.SequenceMatcher(None, _describe_identity(item[1]), described).ratio(),
            )
            nearest = self.reason("nearest-token", token=scored[0], identity=_describe_identity(scored[1]))
        self.add("france-connect-no-token", file.rel, file.lines.get("params"), identity=described, nearest=nearest)

    def _france_connect_folder(self, files: Sequence[_File], routes: set[str]) -> None:
        validator = Draft4Validator(FRANCE_CONNECT_SCHEMA)
        owners: dict[str, _File] = {}
        for file in files:
            data = file.data
            if file.failed:
                continue
            if not isinstance(data, dict):
                self.add("invalid-case", file.rel, 1, detail=self.reason("not-a-mapping"))
                continue
            params = data.get("params")
            token = params.get("token") if isinstance(params, dict) else None
            if not isinstance(token, str):
                line = file.param_lines.get("token") or file.lines.get("params", 1)
                self.add("france-connect-token", file.rel, line)
            payload = self._payload(file, data)
            if payload is not None:
                shown, total = _schema_errors(validator, payload, self.lang)
                if shown:
                    detail = "; ".join(shown) + (f" (+{total - len(shown)})" if total > len(shown) else "")
                    self.add("france-connect-schema", file.rel, file.lines.get("payload"), detail=detail)
            if is_blank(data.get("description")) or not isinstance(data.get("description"), str):
                self.add("missing-description", file.rel, file.lines.get("description", 1))
            api_path = data.get("api_path")
            if not isinstance(api_path, str) or not api_path:
                self.add("france-connect-api-path", file.rel, 1, detail=self.reason("api-path-missing"))
            elif api_path not in routes and "/api" + api_path not in routes:
                self.add(
                    "france-connect-api-path",
                    file.rel,
                    file.lines.get("api_path"),
                    detail=self.reason("api-path-unknown", path=api_path),
                )
            if isinstance(token, str) and file.case is not None:
                key = token.lower()
                if key in owners:
                    previous = owners[key]
                    self.add(
                        "duplicate-key",
                        previous.rel,
                        previous.param_lines.get("token") or previous.lines.get("params"),
                        other=file.name,
                        mode=self.mode.value,
                        key=f"token={key}",
                    )
                owners[key] = file

    # -- duplicates (spec §9.2, and after normalisation) --------------------------------

    def _duplicates(self, context: _Context, files: Sequence[_File]) -> None:
        raw: dict[str, _File] = {}
        keyed: dict[str, _File] = {}
        for file in files:  # path order: the later file wins, as on the server
            assert file.case is not None
            params = file.case.params
            raw_key = json.dumps(params, sort_keys=True, default=str)
            key = context.keys.case_key(params)
            if raw_key in raw:
                self.add("duplicate-params", raw[raw_key].rel, raw[raw_key].lines.get("params"), other=file.name)
            elif key in keyed:
                self.add(
                    "duplicate-key",
                    keyed[key].rel,
                    keyed[key].lines.get("params"),
                    other=file.name,
                    mode=self.mode.value,
                    key=key or "∅",
                )
            raw[raw_key] = file
            keyed[key] = file


def check_parameters(check: Check) -> dict[str, tuple[str, ...]]:
    """The request parameters behind each error code a check can emit."""
    kind = getattr(check, "kind", "")
    codes = check.codes()
    where = getattr(check, "where", None)
    if where is not None:
        parts: tuple[str, ...] = (where.iso,) if where.iso else (where.year, where.month, where.day)
        if kind == "date_naissance" and not where.iso:
            return {"00422": (where.year,), "00423": (where.month,), "00424": (where.day,), "00425": parts}
        return dict.fromkeys(codes, parts)
    if isinstance(check, CnavLieuNaissanceCheck):
        lieu = check.commune, check.pays
        return {
            check.code: lieu,
            "00422": (check.annee,),
            "00428": (check.departement,),
        }
    if isinstance(check, MenSearchCheck):
        perimeter = check.departements, check.regions
        return {
            "00410": (check.code_etablissement,),
            "00419": (check.code_etablissement, *perimeter),
            "00412": (check.degre,),
            "00413": perimeter,
            "00414": perimeter,
            "00416": (check.departements,),
            "00417": (check.regions,),
        }
    if kind == "request_id_uuid":
        return dict.fromkeys(codes, ("X-Request-Id",))
    param = getattr(check, "param", None)
    if isinstance(param, str):
        return dict.fromkeys(codes, (param,))
    return {}


def lint_repository(
    root: str | os.PathLike[str],
    *,
    mode: MatchMode = MatchMode.DOCUMENTED,
    today: datetime.date | None = None,
    lang: str = "en",
    limits: FileLimits | None = None,
) -> LintReport:
    """Every finding of the fixture repository at `root`; never raises on a bad file.

    The files are read as the server reads them (`sandbox.repository_files`): nothing outside
    `root`, each file bounded by `limits`, YAML aliases bounded before expansion.
    """
    path = Path(root).resolve()
    if lang not in ("en", "fr"):
        raise ValueError(f"unknown language {lang!r} (en or fr)")
    return _Linter(path, mode, today or datetime.date.today(), lang, limits).run()


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

_SUMMARY = {
    "en": "{errors} error(s), {warnings} warning(s) in {files} file(s) ({mode} mode, today {today})",
    "fr": "{errors} erreur(s), {warnings} avertissement(s) dans {files} fichier(s) (mode {mode}, date {today})",
}
_SEVERITY = {"en": {"error": "error", "warning": "warning"}, "fr": {"error": "erreur", "warning": "avertissement"}}
_HINT = {"en": "fix", "fr": "correctif"}


def _github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def format_findings(report: LintReport, output_format: str = "text", prefix: str = "") -> str:
    """The report as text (one finding and its fix per line pair), JSON (a list) or GitHub annotations."""

    def where(finding: Finding) -> str:
        return os.path.normpath(os.path.join(prefix, finding.file)) if prefix else finding.file

    if output_format == "json":
        items = [{**f.as_dict(), "file": where(f)} for f in report.findings]
        return json.dumps(items, ensure_ascii=False, indent=2)
    lines = []
    for finding in report.findings:
        if output_format == "github":
            props = f"file={_github_property(where(finding))}"
            if finding.line:
                props += f",line={finding.line}"
            props += f",title={_github_property(finding.rule)}"
            text = f"{finding.message} — {finding.hint}"
            lines.append(f"::{finding.severity} {props}::{_github_data(text)}")
        else:
            location = f"{where(finding)}:{finding.line}" if finding.line else where(finding)
            severity = _SEVERITY[report.lang][finding.severity]
            lines.append(f"{location}: {severity} [{finding.rule}] {finding.message}")
            lines.append(f"    {_HINT[report.lang]}: {finding.hint}")
    summary = _SUMMARY[report.lang].format(
        errors=len(report.errors),
        warnings=len(report.warnings),
        files=report.files,
        mode=report.mode.value,
        today=report.today.isoformat(),
    )
    if output_format == "github":
        lines.append(f"::notice title=sandbox lint::{_github_data(summary)}")
    else:
        lines.append(summary)
    return "\n".join(lines)
