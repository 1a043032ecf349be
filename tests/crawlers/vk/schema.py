"""Validate VK objects against the official VK API JSON schema (../shared/data/vk-api-schema, 5.199).

The schema is draft-07 with VK extensions. Two adjustments make it usable on real answers:
- `$ref`s are relative ("../wall/objects.json#/..."), so every file is registered under a base URI;
- per-property `"required": true` flags are code-generation hints (the API itself omits `inner_type`,
  `has_tags`, `can_like`... that they mark), so they are dropped; types, enums, formats of every field
  that IS present are still checked. The fields the mapper needs are asserted by the tests themselves.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.conftest import require_shared_data

BASE = "https://vk-api-schema.invalid/"


def _relax(node: Any) -> Any:
    """Drop VK's non-standard boolean `required` flags (in place) and return the node."""
    if isinstance(node, dict):
        if isinstance(node.get("required"), bool):
            del node["required"]
        for value in node.values():
            _relax(value)
    elif isinstance(node, list):
        for value in node:
            _relax(value)
    return node


@cache
def _registry(root: Path) -> Registry:
    resources = []
    for path in sorted(root.rglob("*.json")):
        doc = _relax(json.loads(path.read_text(encoding="utf-8")))
        doc.pop("$schema", None)
        uri = BASE + path.relative_to(root).as_posix()
        resources.append((uri, Resource.from_contents(doc, default_specification=DRAFT7)))
    return Registry().with_resources(resources)


def validator(file: str, definition: str) -> jsonschema.Draft7Validator:
    """Return a validator for one definition, e.g. ("wall/objects.json", "wall_wallpost_full")."""
    root = require_shared_data("vk-api-schema")
    return jsonschema.Draft7Validator(
        {"$ref": f"{BASE}{file}#/definitions/{definition}"}, registry=_registry(root)
    )


def api_object(raw: dict[str, Any]) -> dict[str, Any]:
    """Return the API object without the collector's "_" keys."""
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def errors_of(v: jsonschema.Draft7Validator, obj: dict[str, Any]) -> list[str]:
    """Return the schema errors of one object (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(api_object(obj))]
