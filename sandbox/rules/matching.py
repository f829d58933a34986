"""From request parameters to a lookup key, and from a case's params to the same key.

Two match modes share one canonical form (Rails `Hash#to_query` after lower-casing
every string, spec §4.3):

* `documented`: a case is reached by exactly the parameters it documents. The key is
  built from the request's own declared parameters; nothing is added server-side.
* `staging`: the key is built the way real staging builds it (§4.2), from the
  per-operation lookup rules in `lookup_rules.yaml`, server-injected keys included.

Per-operation differences are data (`LookupRule`), never branches on operation ids.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote_plus, unquote_plus, unquote_to_bytes

import yaml

from sandbox.rules.coercion import is_empty as is_empty  # re-exported: lint reads it here
from sandbox.rules.coercion import is_empty_container, ruby_to_i, to_s
from sandbox.rules.franceconnect import DEFAULT_MAPPING, check_mapping
from sandbox.rules.operations import Operation
from sandbox.rules.table import Condition, Options, Rule, mapping_options, parse_table
from sandbox.rules.table import RuleError as RuleError  # re-exported: the error of lookup rules
from sandbox.rules.tracking import TRACKING_PARAMETERS
from sandbox.rules.unreadable import array_after_scalar, full_query_problem, only_ascii_escapes

Params = dict[str, Any]


class MatchMode(StrEnum):
    DOCUMENTED = "documented"
    STAGING = "staging"


# ---------------------------------------------------------------------------
# Canonical form
# ---------------------------------------------------------------------------


# The parsing caches below hold only strings of at most CACHED_CHARS characters, CACHE_ENTRIES
# of them each: about 3 MB each at most, whatever clients send (a longer string is worked out each time).
CACHED_CHARS = 32
CACHE_ENTRIES = 4096


@lru_cache(maxsize=CACHE_ENTRIES)
def _cached_escape(text: str) -> str:
    return quote_plus(text, safe="~")


def escape(text: str) -> str:
    # Ruby CGI.escape: a-zA-Z0-9 _ . - ~ kept, space is '+', the rest %XX over UTF-8.
    # Cached when short: the same names and values come back on every request.
    return _cached_escape(text) if len(text) <= CACHED_CHARS else quote_plus(text, safe="~")


def lower_strings(value: Any) -> Any:
    """Lower-case every string, in arrays and mappings too (full Unicode mapping)."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [lower_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: lower_strings(v) for k, v in value.items()}
    return value


def _entries(value: Any, key: str) -> list[str]:
    if isinstance(value, dict):
        return [entry for k, v in value.items() if not is_empty_container(v) for entry in _entries(v, f"{key}[{k}]")]
    if isinstance(value, list):
        prefix = key + "[]"
        if not value:
            return [escape(prefix) + "="]
        return [entry for v in value for entry in _entries(v, prefix)]
    return [escape(key) + "=" + escape(to_s(value))]


def _entry(key: str, value: Any) -> str:
    """One top-level entry of `to_query`, value lower-cased."""
    if isinstance(value, str):
        return string_entry(key, value)
    if type(value) is int:  # a staging key's number (`kind: int`): the same text as its digits
        return string_entry(key, str(value))
    return "&".join(_entries(lower_strings(value), key))


# The names of a key entry are the operation's (declared, documented or from a lookup rule), never
# a client's: an entry is remembered when its value is short, under this bound on the name too.
CACHED_NAME_CHARS = 64


def string_entry(key: str, value: str) -> str:
    if len(value) <= CACHED_CHARS and len(key) <= CACHED_NAME_CHARS:
        return _cached_string_entry(key, value)
    return escape(key) + "=" + escape(value.lower())


@lru_cache(maxsize=CACHE_ENTRIES)
def _cached_string_entry(key: str, value: str) -> str:
    return escape(key) + "=" + escape(value.lower())


def to_query(mapping: Mapping[str, Any]) -> str:
    """Rails `Hash#to_query`: entries escaped, empty arrays/maps skipped, sorted byte-wise."""
    parts = ["&".join(_entries(value, str(key))) for key, value in mapping.items() if not is_empty_container(value)]
    parts.sort()
    return "&".join(parts)


def canonical_key(mapping: Mapping[str, Any], *, drop_blank: bool) -> str:
    """The lookup key of a parameter mapping: lower-cased, then `to_query`.

    With `drop_blank` (documented mode) an empty or absent value is the same as no key.
    """
    lowered = lower_strings(dict(mapping))
    if drop_blank:
        lowered = {k: v for k, v in lowered.items() if not is_empty(v)}
    return to_query(lowered)


def strip_brackets(name: str) -> str:
    return name[:-2] if name.endswith("[]") else name


# ---------------------------------------------------------------------------
# Request parameters
# ---------------------------------------------------------------------------


@lru_cache(maxsize=CACHE_ENTRIES)
def _cached_unquote(text: str) -> str:
    return unquote_plus(text)


def _unquote(text: str) -> str:
    return _cached_unquote(text) if len(text) <= CACHED_CHARS else unquote_plus(text)


def parse_query(query_string: bytes | str) -> Params:
    """Query string to a Rack-like mapping: `k[]=a&k[]=b` is a list, a repeated `k` keeps the last.

    Equivalent to `urllib.parse.parse_qsl(..., keep_blank_values=True)`, with percent-decoding
    skipped for the (common) pieces that need none: this runs on every request.
    """
    text = query_string.decode("utf-8", "replace") if isinstance(query_string, bytes) else query_string
    return _parsed(text)[0]


def read_query(query_string: bytes) -> tuple[Params, str | None]:
    """`parse_query` and `unreadable.query_problem` of a query string (§3.6), in one pass over its
    pieces when its escapes all decode to ASCII (the common case: then only `k=…&k[]=…` can make it
    unreadable); else each in full. A request new to the sandbox needs both: this halves their cost."""
    if not query_string.isascii() or (b"%" in query_string and not only_ascii_escapes(query_string)):
        return parse_query(query_string), full_query_problem(query_string)
    return _parsed(query_string.decode("ascii"))


def _parsed(text: str) -> tuple[Params, str | None]:
    """The parameters of a decoded query string, and the first name sent as a scalar then as an array
    (Rack's complaint, exact when every escape decodes to ASCII: `read_query`)."""
    params: Params = {}
    scalars: set[str] = set()  # the names sent as scalars so far, as Rack sees them (an empty piece too)
    problem = None
    for piece in text.split("&"):
        name, _, value = piece.partition("=")
        if "%" in name or "+" in name:
            name = _unquote(name)
        if not name.endswith("[]"):
            scalars.add(name)
            if piece:
                params[name] = _unquote(value) if "%" in value or "+" in value else value
            continue
        key = name[:-2]
        if problem is None and key in scalars:
            problem = array_after_scalar(key)
        if "%" in value or "+" in value:
            value = _unquote(value)
        current = params.get(key)
        if isinstance(current, list):
            current.append(value)
        else:
            params[key] = [value]
    return params, problem


def may_name_token(query_string: bytes) -> bool:
    """False when no parameter of the query string can be `token` (so it need not be parsed for one).

    An escape never spans a `&` or a `=`, so a name that decodes to `token` leaves `token` in the
    whole query string decoded at once."""
    if b"token" in query_string:
        return True
    # An escape decodes to one byte: without an escape of t, o, k, e or n, every letter of a
    # decoded `token` was written as is, and the test above found it (`prenoms%5B%5D` is not decoded).
    return _TOKEN_LETTER_ESCAPE.search(query_string) is not None and b"token" in unquote_to_bytes(query_string)


_TOKEN_LETTER_ESCAPE = re.compile(rb"%(?:74|6[5bBeEfF])")


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the server knows about a request beyond its parameters (injected keys read these)."""

    token_uid: str | None = None
    token_jti: str | None = None
    request_id: str | None = None
    api_version: str = ""


NO_FACTS = RequestFacts()


# ---------------------------------------------------------------------------
# Lookup rules (data)
# ---------------------------------------------------------------------------

_SOURCES = ("param", "token_uid", "token_jti", "request_id", "api_version")
_KINDS = ("string", "list", "int", "int_or_nil", "int_if_present", "words")


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One key of a staging lookup hash and where its value comes from."""

    key: str
    param: str
    source: str = "param"
    kind: str = "string"
    default: str | None = None
    only_if: tuple[str, str] | None = None
    requires: tuple[str, ...] = ()

    @property
    def injected(self) -> bool:
        """True when the server, not the client, supplies (part of) the value."""
        return self.source != "param" or self.default is not None


@dataclass(frozen=True, slots=True)
class LookupVariant:
    """The keys of a rule, used when the condition `when` holds (or always, when it is None)."""

    keys: tuple[KeySpec, ...]
    compact: bool = True
    when: Condition | None = None


@dataclass(frozen=True, slots=True)
class LookupRule(Rule[LookupVariant]):
    """The lookup key of the operations `patterns` match (`variant_for` the request)."""

    @property
    def reads_request_facts(self) -> bool:
        """True when a key comes from the token, the request id or the route version."""
        return any(spec.source != "param" for variant in self.variants for spec in variant.keys)


def _key_spec(key: str, raw: Any, where: str) -> KeySpec:
    options = mapping_options(raw or {}, f"{where}: key {key!r}", noun="option")
    source = str(options.get("source", "param"))
    kind = str(options.get("kind", "string"))
    if source not in _SOURCES:
        raise RuleError(f"{where}: key {key!r}: unknown source {source!r} (one of {sorted(_SOURCES)})")
    if kind not in _KINDS:
        raise RuleError(f"{where}: key {key!r}: unknown kind {kind!r} (one of {sorted(_KINDS)})")
    only_if = options.get("only_if")
    condition: tuple[str, str] | None = None
    if only_if is not None:
        if not isinstance(only_if, dict) or len(only_if) != 1:
            raise RuleError(f"{where}: key {key!r}: only_if must be a one-entry mapping param: value")
        ((name, value),) = only_if.items()
        condition = (str(name), to_s(value).lower())
    default = options.get("default")
    spec = KeySpec(
        key=key,
        param=str(options.get("param", key)),
        source=source,
        kind=kind,
        default=None if default is None else to_s(default),
        only_if=condition,
        requires=tuple(str(r) for r in options.get("requires", ()) or ()),
    )
    options.finish()
    return spec


def _variant(options: Options, when: Condition | None) -> LookupVariant:
    keys = options.get("keys")
    if not isinstance(keys, dict) or not keys:
        raise RuleError(f"{options.where}: `keys` must be a non-empty mapping")
    return LookupVariant(
        keys=tuple(_key_spec(str(k), v, options.where) for k, v in keys.items()),
        compact=bool(options.get("compact", True)),
        when=when,
    )


def parse_rules(raw_rules: Iterable[Mapping[str, Any]], origin: str) -> list[LookupRule]:
    """Lookup rules from YAML data (the table format of `sandbox.rules.table`, body `keys`)."""
    return [
        LookupRule(rule.name, rule.patterns, rule.variants, rule.note)
        for rule in parse_table(raw_rules, origin, body="keys", variant=_variant)
    ]


@dataclass(frozen=True, slots=True)
class IdentityMapping:
    patterns: tuple[str, ...]
    identity: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RuleBook:
    """All the lookup rules in force: the repository's own first, then the built-in table."""

    rules: tuple[LookupRule, ...]
    france_connect_operations: tuple[str, ...] = ()
    identity_mappings: tuple[IdentityMapping, ...] = ()

    def rule_for(self, operation: Operation) -> LookupRule:
        return rule_for(operation, self.rules)

    def accepts_france_connect(self, operation_id: str) -> bool:
        """On these operations a Bearer header carries a FranceConnect token (§5.1)."""
        return any(fnmatch.fnmatchcase(operation_id, p) for p in self.france_connect_operations)

    def identity_mapping(self, operation_id: str) -> Mapping[str, str]:
        for mapping in self.identity_mappings:
            if any(fnmatch.fnmatchcase(operation_id, p) for p in mapping.patterns):
                return mapping.identity
        return DEFAULT_MAPPING

    def extended(self, raw_rules: Iterable[Mapping[str, Any]], origin: str) -> RuleBook:
        return RuleBook(
            (*parse_rules(raw_rules, origin), *self.rules), self.france_connect_operations, self.identity_mappings
        )


def _identity_mapping(raw: Any, where: str) -> IdentityMapping:
    """One `france_connect.mappings` entry: `operations` patterns, `identity`, and a `note`."""
    options = mapping_options(raw, where)
    patterns = options.patterns()
    options.note()
    identity = options.get("identity")
    if not isinstance(identity, dict):
        raise RuleError(f"{where}: `identity` must map parameters to identity fields")
    try:
        check_mapping(identity, where)
    except ValueError as error:
        raise RuleError(str(error)) from error
    options.finish()
    return IdentityMapping(patterns, dict(identity))


def parse_rulebook(data: Any, origin: str) -> RuleBook:
    """A lookup table: `rules`, and `france_connect` (its `operations` and identity `mappings`)."""
    table = mapping_options(data, origin)
    france_connect = mapping_options(table.get("france_connect") or {}, f"{origin}: france_connect")
    raw_rules = table.get("rules")
    if not isinstance(raw_rules, list):
        raise RuleError(f"{origin}: `rules` must be a list")
    operations = france_connect.patterns() if "operations" in france_connect else ()
    mappings = france_connect.get("mappings") or []
    if not isinstance(mappings, list):
        raise RuleError(f"{origin}: france_connect: `mappings` must be a list")
    book = RuleBook(
        rules=tuple(parse_rules(raw_rules, origin)),
        france_connect_operations=operations,
        identity_mappings=tuple(
            _identity_mapping(entry, f"{origin}: france_connect mapping {number}")
            for number, entry in enumerate(mappings, start=1)
        ),
    )
    france_connect.finish()
    table.finish()
    return book


@lru_cache(maxsize=1)
def builtin_rulebook() -> RuleBook:
    text = resources.files("sandbox.rules").joinpath("lookup_rules.yaml").read_text(encoding="utf-8")
    return parse_rulebook(yaml.load(text, Loader=yaml.CSafeLoader), "sandbox/lookup_rules.yaml")


def builtin_rules() -> list[LookupRule]:
    return list(builtin_rulebook().rules)


def default_rule(operation: Operation) -> LookupRule:
    """No rule in the table: the key is every lookup parameter the operation declares."""
    keys = tuple(
        KeySpec(key=p.key, param=p.key, kind="list" if p.is_array else "string") for p in operation.lookup_parameters()
    )
    return LookupRule(name="declared parameters", patterns=(operation.id,), variants=(LookupVariant(keys),))


def rule_for(operation: Operation, rules: Sequence[LookupRule]) -> LookupRule:
    for rule in rules:
        if rule.applies_to(operation.id):
            return rule
    return default_rule(operation)


# ---------------------------------------------------------------------------
# Building keys
# ---------------------------------------------------------------------------


class Unmatchable(Exception):
    """The request cannot produce any case key (real staging rejects it before lookup)."""


def _value(spec: KeySpec, params: Mapping[str, Any], facts: RequestFacts) -> Any:
    if spec.source == "param" and spec.kind == "string" and spec.default is None:
        return params.get(spec.param)  # the common key: the parameter as sent
    if spec.source == "token_uid":
        return facts.token_uid
    if spec.source == "token_jti":
        return facts.token_jti
    if spec.source == "request_id":
        return facts.request_id
    if spec.source == "api_version":
        return facts.api_version
    raw = params.get(spec.param)
    if is_empty(raw) and spec.default is not None:
        raw = spec.default
    if spec.kind == "string":
        return raw
    if spec.kind == "list":
        if raw is None:
            return None
        if not isinstance(raw, list):
            raise Unmatchable(f"{spec.param} must be sent as an array ({spec.param}[]=…)")
        return raw
    if spec.kind == "words":
        return str(raw).split() if isinstance(raw, str) else raw
    if spec.kind == "int":
        return ruby_to_i(raw)
    if spec.kind == "int_if_present":
        return None if raw is None else ruby_to_i(raw)
    # int_or_nil
    number = ruby_to_i(raw)
    return number or None


def staging_mapping(variant: LookupVariant, params: Mapping[str, Any], facts: RequestFacts) -> Params:
    built: Params = {}
    for spec in variant.keys:
        if spec.only_if is not None:
            name, expected = spec.only_if
            if to_s(params.get(name)).lower() != expected:
                built[spec.key] = None
                continue
        if spec.requires and any(built.get(required) is None for required in spec.requires):
            built[spec.key] = None
            continue
        built[spec.key] = _value(spec, params, facts)
    if variant.compact:
        built = {k: v for k, v in built.items() if v is not None}
    return built


@dataclass(frozen=True, slots=True)
class KeyBuilder:
    """How one operation turns request parameters into its lookup key, in one mode."""

    mode: MatchMode
    rule: LookupRule
    # documented mode: the parameter names that take part in the key
    names: frozenset[str]
    # True when a key reads the token, the request id or the route version (worked out once)
    needs_facts: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs_facts", self.mode is MatchMode.STAGING and self.rule.reads_request_facts)

    @classmethod
    def for_operation(
        cls, operation: Operation, rule: LookupRule, mode: MatchMode, case_names: Iterable[str] = ()
    ) -> KeyBuilder:
        """In documented mode the key reads the declared parameters and every name a case documents."""
        declared = {p.key for p in operation.lookup_parameters()}
        documented = {strip_brackets(n) for n in case_names} - TRACKING_PARAMETERS
        return cls(mode=mode, rule=rule, names=frozenset(declared | documented))

    def request_key(self, params: Mapping[str, Any], facts: RequestFacts) -> str:
        """Raises `Unmatchable` when no case can ever match this request."""
        if self.mode is MatchMode.DOCUMENTED:
            # One pass, same result as canonical_key(documented_mapping(params), drop_blank=True).
            names = self.names
            parts = []
            for name, value in params.items():
                if name not in names:
                    continue
                if type(value) is str:  # the common value, written without `_entry`'s dispatch
                    if value:
                        parts.append(string_entry(name, value))
                elif not is_empty(value):
                    parts.append(_entry(name, value))
            parts.sort()
            return "&".join(parts)
        variant = self.rule.variant_for(params)
        # One pass, same result as canonical_key(staging_mapping(...), drop_blank=False).
        mapping = staging_mapping(variant, params, facts)
        parts = [_entry(name, value) for name, value in mapping.items() if not is_empty_container(value)]
        parts.sort()
        return "&".join(parts)

    def case_key(self, case_params: Mapping[str, Any]) -> str:
        """The key of a case's parameters: `canonical_key` of them (brackets stripped and blanks dropped
        in documented mode) in one pass, as `request_key` builds a request's (every build: ~1,600 keys)."""
        if self.mode is MatchMode.DOCUMENTED:
            stripped = {strip_brackets(str(k)): v for k, v in case_params.items()}
            parts = [_entry(name, value) for name, value in stripped.items() if not is_empty(value)]
        else:
            parts = [_entry(str(name), value) for name, value in case_params.items() if not is_empty_container(value)]
        parts.sort()
        return "&".join(parts)

    def documented_mapping(self, params: Mapping[str, Any]) -> Params:
        return {n: v for n, v in params.items() if n in self.names}


def without_tracking(params: Mapping[str, Any]) -> Params:
    return {k: v for k, v in params.items() if k not in TRACKING_PARAMETERS}
