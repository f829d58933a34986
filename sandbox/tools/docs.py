"""`sandbox docs`: the generated files of a fixture repository, in the upstream format (spec §9.4).

* `payloads/README.md`: the route table, in three sections (API Particulier V2, API
  Particulier V3, API Entreprise v3+), one bullet per OpenAPI path with an
  `x-operationId`, linked when the operation has a case folder;
* `payloads/<operation>/README.md`: per case (file order), the file name, its status,
  its description and three collapsible blocks: "Paramètres" and "Réponse API" (JSON
  pretty-printed the way Ruby's `JSON.pretty_generate` does) and "Commande cURL";
* `payloads/<operation>/summary.csv`: `Titre, Description, Paramètres, Status, Réponse`
  (params as compact JSON, the payload string as written), quoted like Ruby's CSV;
* the same two files for `payloads/france_connect`.

The cURL commands are the upstream generator's (`lib/generate_code_sample_from_path.rb`),
quirks included: API Entreprise examples carry only the tracking parameters and the
path (query-only parameters such as `nature_effectif`, `profondeur` or `year` are not
added); a case whose path contains `france_connect` is shown with a FranceConnect token.
`--check` lists the files that differ from what would be generated, and exits 1.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import yaml

from sandbox.load.repository import FRANCE_CONNECT_FOLDER, OpenAPIDocument, read_repository
from sandbox.load.repository_files import RefusedFile, RepositoryTree, load_yaml
from sandbox.rules.coercion import to_s
from sandbox.tools.reaching import ENTREPRISE_CURL_PAIRS, PARTICULIER_RECIPIENT, france_connect_request

__all__ = [
    "DEFAULT_BASE_URLS",
    "GeneratedFile",
    "curl_command",
    "generate",
    "pretty_json",
    "stale_files",
]

DEFAULT_BASE_URLS: Mapping[str, str] = {
    "entreprise": "https://staging.entreprise.api.gouv.fr",
    "particulier": "https://staging.particulier.api.gouv.fr",
}
ROOT_PREAMBLE = (
    "# Payloads\n"
    "\n"
    "Les chemins sans lien ne possèdent pas de payload: l'environnement de test\n"
    "génère une payload par défaut basée sur la spécification OpenAPI associée.\n"
)
SECTIONS = (
    ("particulier_v2", "API Particulier V2"),
    ("particulier", "API Particulier V3"),
    ("entreprise", "API Entreprise v3+"),
)
FRANCE_CONNECT_TITLE = "France Connect"
EXTRA_DESCRIPTION = "extra_description.md"
CSV_HEADERS = ("Titre", "Description", "Paramètres", "Status", "Réponse")


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    path: str  # relative to the repository root
    content: str


# ---------------------------------------------------------------------------
# Ruby-compatible rendering
# ---------------------------------------------------------------------------


def _ruby_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ValueError("NaN and Infinity are not JSON")
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").zfill(2)
        return f"{mantissa}e{sign}{digits}"
    return text


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _ruby_float(value)
    return json.dumps(str(value), ensure_ascii=False)


def pretty_json(value: Any, depth: int = 0) -> str:
    """Ruby `JSON.pretty_generate`: two-space indent, `"key": value`, `[]` and `{}` when empty."""
    pad = "  " * depth
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}  {_scalar(str(k))}: {pretty_json(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{pad}  {pretty_json(v, depth + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return _scalar(value)


def compact_json(value: Any) -> str:
    """Ruby `to_json` (json gem): compact, key order kept, non-ASCII raw."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_scalar(str(k))}:{compact_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(compact_json(v) for v in value) + "]"
    return _scalar(value)


def _csv_field(value: Any) -> str:
    """Ruby CSV (default options): nil empty, "" quoted, quotes doubled when needed."""
    if value is None:
        return ""
    text = to_s(value)
    if text == "":
        return '""'
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_row(values: Sequence[Any]) -> str:
    return ",".join(_csv_field(v) for v in values) + "\n"


def _cgi_escape(text: str) -> str:
    return quote_plus(text, safe="~")


class _Writer:
    """Ruby's `puts`: a newline is added unless the text already ends with one."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def puts(self, text: str = "") -> None:
        self.parts.append(text if text.endswith("\n") else text + "\n")

    def text(self) -> str:
        return "".join(self.parts)


# ---------------------------------------------------------------------------
# cURL commands (lib/generate_code_sample_from_path.rb)
# ---------------------------------------------------------------------------


def _curl_param(name: str, value: Any) -> list[str]:
    if isinstance(value, list):
        return [part for item in value for part in _curl_param(f"{name}[]", item)]
    return [f"-d '{name}={_cgi_escape(to_s(value))}'"]


def _curl_params(params: Mapping[str, Any]) -> str:
    return " ".join(part for name, value in params.items() for part in _curl_param(str(name), value))


def _interpolated(path: str, params: Mapping[str, Any]) -> str:
    """Ruby `path.gsub("{", "%{") % params`: placeholders replaced by the raw values."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return to_s(params[name]) if name in params else match.group(0)

    return re.sub(r"\{([^{}]+)\}", fill, path)


def _kind(folder: str, file: str) -> str:
    relative = f"payloads/{folder}/{file}"
    if "france_connect" in relative:
        return "france_connect"
    if "api_entreprise" in relative:
        return "entreprise"
    if "api_particulier_v2" in relative:
        return "particulier_v2"
    return "particulier"


def curl_command(kind: str, path: str, params: Mapping[str, Any], base_urls: Mapping[str, str]) -> str:
    """The README's cURL example of a case, as the upstream generator writes it."""
    particulier = base_urls["particulier"].rstrip("/")
    if kind == "entreprise":
        tracking = _curl_params(dict(ENTREPRISE_CURL_PAIRS))
        url = base_urls["entreprise"].rstrip("/") + _interpolated(path, params)
        return f'curl -H "Authorization: Bearer $token" \\\n  -G {tracking} \\\n  --url "{url}"'
    if kind == "france_connect":
        token = params.get("token")
        request = france_connect_request(_interpolated(path, params), to_s(token) if token else "$token_france_connect")
        query = "&".join(f"{name}={value}" for name, value in request.query)
        return f'curl -H "{request.headers[0][0]}: {request.headers[0][1]}" --url "{particulier}{request.path}?{query}"'
    if kind == "particulier_v2":
        header, query = "X-Api-Key: $token", _curl_params(params)
    else:
        merged = dict([PARTICULIER_RECIPIENT])
        merged.update(params)
        header, query = "Authorization: Bearer $token", _curl_params(merged)
    url = particulier + _interpolated(path, params)
    return f'curl -H "{header}" \\\n  -G {query} \\\n  --url "{url}"'


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def _case_files(tree: RepositoryTree, folder: Path) -> list[Path]:
    """Ruby `Dir["*.y*ml"]` (sorted): every file whose name ends in .y…ml (links leading outside: none)."""
    try:
        entries = tree.entries(folder)
    except (OSError, RefusedFile):
        return []
    return [
        entry.path
        for entry in sorted(entries, key=lambda e: e.name.encode("utf-8"))
        if entry.is_file and re.fullmatch(r".*\.y.*ml", entry.name)
    ]


def _load(tree: RepositoryTree, path: Path) -> dict[str, Any] | None:
    try:
        text = tree.read_text(path, tree.limits.case_bytes, "--max-case-bytes")
        data = load_yaml(text, tree.limits).data
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RefusedFile, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _extra_description(tree: RepositoryTree, path: Path) -> str | None:
    if not tree.exists(path):
        return None
    try:
        return tree.read_text(path, tree.limits.case_bytes, "--max-case-bytes")
    except (OSError, UnicodeDecodeError, RefusedFile):
        return None


def _collapse(writer: _Writer, title: str, content: str) -> None:
    writer.puts()
    writer.puts(f"  <details><summary>{title}</summary>")
    writer.puts("  <p>")
    writer.puts()
    writer.puts("  " + content.replace("\n", "\n  "))
    writer.puts()
    writer.puts("  </p>")
    writer.puts("  </details>")


def _payload_json(raw: Any) -> str:
    try:
        return pretty_json(json.loads(raw)) if isinstance(raw, str) else pretty_json(raw)
    except (json.JSONDecodeError, ValueError, RecursionError):
        return str(raw)


def folder_readme(
    folder: Path,
    title: str,
    api_path: str | None,
    base_urls: Mapping[str, str],
    tree: RepositoryTree | None = None,
) -> tuple[str, str]:
    """The README.md and summary.csv of one case folder (of `payloads/` in the repository `tree`)."""
    tree = tree or RepositoryTree(folder.parent.parent)
    readme = _Writer()
    readme.puts(f"# {title}")
    extra = _extra_description(tree, folder / EXTRA_DESCRIPTION)
    if extra is not None:
        readme.puts()
        readme.puts(extra)
        readme.puts()
    csv = [_csv_row(CSV_HEADERS)]
    for path in _case_files(tree, folder):
        data = _load(tree, path)
        if data is None:
            continue
        raw_params = data.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        status = data.get("status")
        readme.puts(f"* [{path.name}]({path.name})")
        readme.puts()
        readme.puts(f"  Status `{'' if status is None else to_s(status)}`")
        readme.puts()
        readme.puts(f"  {to_s(data.get('description'))}")
        _collapse(readme, "Paramètres", f"```json\n{pretty_json(params)}\n```")
        _collapse(readme, "Réponse API", f"```json\n{_payload_json(data.get('payload'))}\n```")
        kind = _kind(folder.name, path.name)
        case_path = api_path
        if kind == "france_connect" and case_path is None and isinstance(data.get("api_path"), str):
            case_path = data["api_path"]
        if case_path:
            _collapse(readme, "Commande cURL", f"```bash\n{curl_command(kind, case_path, params, base_urls)}\n```")
        title_value = data.get("title")
        csv.append(
            _csv_row(
                [
                    None if title_value is None else to_s(title_value),
                    data.get("description"),
                    compact_json(params),
                    status,
                    data.get("payload"),
                ]
            )
        )
    return readme.text(), "".join(csv)


def _routes(document: OpenAPIDocument) -> Iterator[tuple[str, str, str]]:
    paths = document.content.get("paths")
    for path, item in (paths or {}).items():
        get = item.get("get") if isinstance(item, dict) else None
        responses = get.get("responses") if isinstance(get, dict) else None
        ok = responses.get("200") or responses.get(200) if isinstance(responses, dict) else None
        operation_id = ok.get("x-operationId") if isinstance(ok, dict) else None
        if isinstance(operation_id, str) and operation_id:
            assert isinstance(get, dict)
            yield str(path), operation_id, str(get.get("summary") or "")


def _family(document: OpenAPIDocument) -> str | None:
    ids = [operation_id for _, operation_id, _ in _routes(document)]
    if not ids:
        return None
    if all(i.startswith("api_particulier_v2") for i in ids):
        return "particulier_v2"
    if any(i.startswith("api_particulier") for i in ids):
        return "particulier"
    return "entreprise"


def generate(root: str | Path, base_urls: Mapping[str, str] | None = None) -> list[GeneratedFile]:
    """Every generated file of the repository at `root`, in the upstream format."""
    tree = RepositoryTree(root)
    base = tree.root
    urls = {**DEFAULT_BASE_URLS, **(base_urls or {})}
    content = read_repository(base)
    documents = sorted(content.documents, key=lambda d: d.path)
    payloads = base / "payloads"
    folders = set(content.folders)
    files: list[GeneratedFile] = []
    root_readme = _Writer()
    root_readme.puts(ROOT_PREAMBLE)
    linked: dict[str, tuple[str, str]] = {}
    for family, heading in SECTIONS:
        root_readme.puts()
        root_readme.puts(f"## {heading}")
        root_readme.puts()
        for document in documents:
            if _family(document) != family:
                continue
            for path, operation_id, summary in _routes(document):
                if operation_id in folders:
                    root_readme.puts(f"* [{summary}]({operation_id}) (`{path}`)")
                    linked.setdefault(operation_id, (summary, path))
                else:
                    root_readme.puts(f"* {summary} (`{path}`)")
    files.append(GeneratedFile("payloads/README.md", root_readme.text()))
    for operation_id in sorted(linked):
        summary, path = linked[operation_id]
        readme, csv = folder_readme(payloads / operation_id, summary, path, urls, tree)
        files.append(GeneratedFile(f"payloads/{operation_id}/README.md", readme))
        files.append(GeneratedFile(f"payloads/{operation_id}/summary.csv", csv))
    if FRANCE_CONNECT_FOLDER in folders:
        readme, csv = folder_readme(payloads / FRANCE_CONNECT_FOLDER, FRANCE_CONNECT_TITLE, None, urls, tree)
        files.append(GeneratedFile(f"payloads/{FRANCE_CONNECT_FOLDER}/README.md", readme))
        files.append(GeneratedFile(f"payloads/{FRANCE_CONNECT_FOLDER}/summary.csv", csv))
    return files


def stale_files(root: str | Path, files: Sequence[GeneratedFile]) -> list[str]:
    """The generated files whose content on disk differs (or that are missing, or are links leading outside)."""
    tree = RepositoryTree(root)
    stale = []
    for file in files:
        target = tree.root / file.path
        try:
            current = tree.read_bytes(target, max(len(file.content) * 4, 1024), "generated file")
        except (OSError, RefusedFile):
            stale.append(file.path)
            continue
        if current != file.content.encode("utf-8"):
            stale.append(file.path)
    return stale


def write_files(root: str | Path, files: Sequence[GeneratedFile]) -> list[str]:
    """Write the files that changed; returns their paths.

    Raises `RefusedFile` (writing nothing more) for a file whose folder is a link leading
    outside the repository; a generated file that is itself a link is replaced, never written through.
    """
    tree = RepositoryTree(root)
    written = []
    for path in stale_files(root, files):
        target = tree.root / path
        try:
            folder = tree.writable(target.parent)
        except RefusedFile as refusal:
            raise RefusedFile(f"{path} not written: its folder {refusal}") from None
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{target.name}.{os.getpid()}.tmp"
        temporary.write_bytes(next(f for f in files if f.path == path).content.encode("utf-8"))
        os.replace(temporary, folder / target.name)
        written.append(path)
    return written
