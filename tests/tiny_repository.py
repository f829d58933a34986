"""A small fixture repository written by the tests themselves, for precise end-to-end checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

OPENAPI_ENTREPRISE: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "API Entreprise", "version": "1"},
    "paths": {
        "/v3/demo/unites_legales/{siren}": {
            "get": {
                "summary": "Démo",
                "parameters": [
                    {"name": "siren", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "recipient", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "x-operationId": "api_entreprise_v3_demo_unites_legales",
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "data": {
                                            "type": "object",
                                            "properties": {
                                                "siren": {"type": "string", "example": "130025265"},
                                                "actif": {"type": "boolean", "example": False},
                                                "effectif": {"type": "integer"},
                                            },
                                        }
                                    },
                                }
                            }
                        },
                    }
                },
            }
        }
    },
}

OPENAPI_PARTICULIER: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "API Particulier", "version": "1"},
    "paths": {
        "/v3/demo/identite": {
            "get": {
                "summary": "Démo identité",
                "parameters": [
                    {"name": "nomNaissance", "in": "query", "schema": {"type": "string"}},
                    {"name": "prenoms[]", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                    {"name": "moisDateNaissance", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {"200": {"x-operationId": "api_particulier_v3_demo_with_civility", "description": "ok"}},
            }
        },
        "/v3/demo/sans_404": {
            "get": {
                "summary": "Sans cas 404",
                "parameters": [{"name": "identifiant", "in": "query", "schema": {"type": "string"}}],
                "responses": {
                    "200": {"x-operationId": "api_particulier_v3_demo_with_identifiant", "description": "ok"}
                },
            }
        },
        "/api/v2/demo": {
            "get": {
                "summary": "Démo v2",
                "parameters": [{"name": "identifiant", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"x-operationId": "api_particulier_v2_demo", "description": "ok"}},
            }
        },
    },
}


def write_case(root: Path, folder: str, name: str, params: dict[str, Any], status: int, payload: str) -> None:
    path = root / "payloads" / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    case = {"description": f"cas {name}", "params": params, "status": status, "payload": payload}
    path.write_text(yaml.safe_dump(case, allow_unicode=True, sort_keys=False))


def build(root: Path) -> Path:
    (root / "openapi").mkdir(parents=True, exist_ok=True)
    (root / "openapi" / "a.yaml").write_text(yaml.safe_dump(OPENAPI_ENTREPRISE, allow_unicode=True))
    (root / "openapi" / "b.json").write_text(__import__("json").dumps(OPENAPI_PARTICULIER))
    write_case(
        root,
        "api_entreprise_v3_demo_unites_legales",
        "200.yaml",
        {"siren": "130025265"},
        200,
        '{"data": {"nom": "<DINUM> & co", "ville": "Paris\u2028"}}',
    )
    write_case(root, "api_entreprise_v3_demo_unites_legales", "404.yaml", {"siren": "000000000"}, 404, '{"errors": []}')
    folder = "api_particulier_v3_demo_with_civility"
    write_case(
        root,
        folder,
        "200.yaml",
        {"nomNaissance": "DUPONT", "prenoms": ["JEAN", "PAUL"], "moisDateNaissance": 8},
        200,
        '{"data": {"ok": true}}',
    )
    write_case(root, folder, "404.yaml", {"nomNaissance": "INCONNU"}, 404, '{"errors": [{"code": "01003"}]}')
    write_case(root, "api_particulier_v3_demo_with_identifiant", "200.yaml", {"identifiant": "1"}, 200, '{"data": 1}')
    write_case(root, "api_particulier_v2_demo", "200.yaml", {"identifiant": "1"}, 200, '{"statut": "ok"}')
    return root
