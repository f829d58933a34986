"""The texts of `sandbox lint`: rule ids, severities and messages from `messages.yaml`, in English and French.

Rule texts are data (`messages.yaml`); this module fills their placeholders and puts the
common messages of the libraries lint relays (jsonschema, json, PyYAML, codecs, the
repository reader) into French.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["Messages", "localised", "messages", "rule_ids"]


@dataclass(frozen=True, slots=True)
class _RuleText:
    severity: str
    summary: Mapping[str, str]
    message: Mapping[str, str]
    hint: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Messages:
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
def messages() -> Messages:
    text = resources.files("sandbox.tools.lint").joinpath("messages.yaml").read_text(encoding="utf-8")
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
    return Messages(rules=rules, reasons={str(k): dict(v) for k, v in raw["reasons"].items()})


def rule_ids() -> dict[str, tuple[str, Mapping[str, str]]]:
    """Every rule id with its severity and its one-line summary (`en`, `fr`)."""
    return {rule_id: (text.severity, text.summary) for rule_id, text in messages().rules.items()}


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
        # sandbox.load.repository_files: what a hostile repository meets
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


def localised(detail: str, lang: str) -> str:
    """`detail` in `lang`: a library's English message put into French when its form is known."""
    if lang != "fr":
        return detail
    for pattern, replacement in _FRENCH:
        if pattern.match(detail):
            return pattern.sub(replacement, detail)
    return detail
