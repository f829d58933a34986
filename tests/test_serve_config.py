"""Each `sandbox serve` option is declared once, on its `ServeConfig` field, and reaches where it is used.

The flags are generated from the fields and read back by name; the request path's settings
take the fields they share by name. These tests derive everything from the declarations, so
that a new option is covered without being listed here.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime
import inspect
from pathlib import Path
from typing import Any

import pytest

from sandbox.cli import assembly, build_parser
from sandbox.cli import serve as serve_command
from sandbox.cli.assembly import SHARED_WITH_SERVICES, make_syncer, request_limits, services
from sandbox.cli.serve_config import CONFIG_ENVIRONMENT, ServeConfig, flag_of
from sandbox.load.repository_files import FileLimits
from sandbox.serve.pipeline import Services
from sandbox.serve.ratelimit import RateLimiter
from sandbox.serve.request_limits import RequestLimits
from tests import tiny_repository

SETTINGS = dataclasses.fields(ServeConfig)
# Texts tried, in order, on an option with a parser, for a value that is accepted and not the default.
_CANDIDATES = ("7", "2026-01-31", "some/folder", "50..200")


def serve_parser() -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = commands.choices["serve"]
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def default_of(setting: dataclasses.Field[Any]) -> Any:
    if setting.default is not dataclasses.MISSING:
        return setting.default
    if setting.default_factory is not dataclasses.MISSING:
        return setting.default_factory()
    return []


def other_value(setting: dataclasses.Field[Any]) -> tuple[list[str], Any]:
    """Arguments giving the setting a value other than its default, and that value."""
    flag = flag_of(setting)
    default = default_of(setting)
    if flag.action in ("store_true", "store_false"):
        return [flag.option], not default
    if flag.action is argparse.BooleanOptionalAction:
        return [flag.option if not default else f"--no-{flag.option[2:]}"], not default
    if flag.action == "append":
        return [flag.option, "first", flag.option, "second"], ["first", "second"]
    if flag.choices is not None:
        choice = next(c for c in flag.choices if c != default)
        return [flag.option, choice], choice
    if flag.parse is None:
        return [flag.option, f"given-{setting.name}"], f"given-{setting.name}"
    for text in _CANDIDATES:
        try:
            value = flag.parse(text)
        except (argparse.ArgumentTypeError, ValueError):
            continue
        if value != default:
            return [flag.option, text], value
    raise AssertionError(f"no candidate text is a non-default value of {flag.option}")


def everything_changed() -> tuple[list[str], dict[str, Any]]:
    argv: list[str] = []
    expected: dict[str, Any] = {}
    for setting in SETTINGS:
        arguments, value = other_value(setting)
        argv += arguments
        expected[setting.name] = value
    return argv, expected


def test_every_serve_flag_is_one_serve_config_field_and_back() -> None:
    actions = [a for a in serve_parser()._actions if not isinstance(a, argparse._HelpAction)]
    by_option = {option: action for action in actions for option in action.option_strings}
    assert [a.dest for a in actions] == [s.name for s in SETTINGS]  # one flag per field, in field order
    for setting in SETTINGS:
        action = by_option[flag_of(setting).option]
        assert action.dest == setting.name
        assert action.default == default_of(setting), setting.name
    options = [flag_of(s).option for s in SETTINGS]
    assert len(options) == len(set(options))


def test_a_command_line_setting_every_option_fills_every_field() -> None:
    argv, expected = everything_changed()
    config = ServeConfig.from_args(build_parser().parse_args(["serve", *argv]))
    for setting in SETTINGS:
        assert getattr(config, setting.name) == expected[setting.name], setting.name
        assert getattr(config, setting.name) != default_of(setting), setting.name


def test_a_bare_command_line_is_the_dataclass_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert ServeConfig.from_args(args) == ServeConfig(fixtures=[])
    assert args.jwt_secrets is not ServeConfig.from_args(args).jwt_secrets  # argparse's default list stays its own


def test_the_configuration_reaches_the_workers_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    argv, _ = everything_changed()
    config = ServeConfig.from_args(build_parser().parse_args(["serve", *argv]))
    monkeypatch.setenv(CONFIG_ENVIRONMENT, config.to_environment())
    assert ServeConfig.from_environment() == config


def test_an_option_read_from_the_environment_says_so_in_its_help() -> None:
    named = [flag_of(s) for s in SETTINGS if flag_of(s).environment]
    assert {f.option for f in named} >= {"--cache-dir", "--webhook-secret", "--jwt-secret", "--admin-token"}
    for flag in named:
        assert flag.help is not None and f"also {flag.environment}" in flag.help, flag.option


def _read_from_config(source: str) -> set[str]:
    """The attributes read as `config.<name>` in some Python source."""
    return {
        node.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "config"
    }


def test_every_setting_is_used_by_the_app_or_marked_process_only() -> None:
    names = {s.name for s in SETTINGS}
    read = _read_from_config(inspect.getsource(assembly))
    used = (read | set(SHARED_WITH_SERVICES) | {f.name for f in dataclasses.fields(RequestLimits)}) & names
    if "limits" in read:  # the FileLimits property: the `max_<name>` fields
        used |= {f"max_{f.name}" for f in dataclasses.fields(FileLimits)}
    process_only = {s.name for s in SETTINGS if flag_of(s).process_only}
    assert used | process_only == names, "a setting nothing reads"
    assert not used & process_only, "a setting marked process_only that the app reads"
    assert process_only <= _read_from_config(inspect.getsource(serve_command))


def test_the_request_path_settings_are_the_configured_ones(tmp_path: Path) -> None:
    _, expected = everything_changed()
    config = ServeConfig(**expected)
    repository = ServeConfig(fixtures=[str(tiny_repository.build(tmp_path / "repo"))], cache_dir=str(tmp_path / "c"))
    syncer = make_syncer(repository)
    snapshot = syncer.start().current
    syncer.stop()
    built = services(config, snapshot)
    assert SHARED_WITH_SERVICES  # rate_limit_key, maintenance, ...
    for name in SHARED_WITH_SERVICES:
        assert getattr(built, name) == getattr(config, name) != getattr(Services(), name), name
    assert built.limits == request_limits(config) != RequestLimits()
    assert [getattr(built.limits, f.name) for f in dataclasses.fields(RequestLimits)] == [
        getattr(config, f.name) for f in dataclasses.fields(RequestLimits)
    ]
    assert config.limits != FileLimits()
    assert [getattr(config.limits, f.name) for f in dataclasses.fields(FileLimits)] == [
        getattr(config, f"max_{f.name}") for f in dataclasses.fields(FileLimits)
    ]
    assert built.fixed_today == datetime.date.fromisoformat(expected["today"])
    assert built.limiter is None  # --no-rate-limit
    assert isinstance(services(repository, snapshot).limiter, RateLimiter)
