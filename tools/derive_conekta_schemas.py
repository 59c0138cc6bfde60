#!/usr/bin/env python3
"""Derive standalone JSON Schemas (draft 2020-12) from Conekta's OpenAPI 3.1 spec.

For each component schema named in SCHEMAS, write ``<out>/<name>.schema.json`` whose root is
that component and whose ``$defs`` hold every component it references, directly or not.
References ``#/components/schemas/X`` become ``#/$defs/X`` (``#`` for the root itself).

OpenAPI-only keywords are converted or dropped:
  * ``nullable: true`` adds ``"null"`` to ``type`` (and ``null`` to ``enum``); without a ``type``
    the schema becomes ``anyOf: [<schema>, {"type": "null"}]``;
  * ``example``, ``examples``, ``discriminator``, ``xml``, ``externalDocs`` and ``x-*``
    extensions are dropped;
  * integer ``format``s (``int8``, ``int32``, ``int64``) also become ``minimum``/``maximum``;
  * everything else (``format``, bounds, ``enum``, ``required``, ``additionalProperties``,
    ``maxProperties``, ``readOnly``, ...) is kept as is.

The output is deterministic (sorted keys, 2-space indent, trailing newline), so CI can run
this script and ``git diff --exit-code`` its output, or run it with ``--check``.

Usage:
  python3 tools/derive_conekta_schemas.py [--spec PATH] [--out DIR] [--check]

Defaults (relative to the repository root, whatever the working directory):
  --spec ../shared/conekta/openapi.yaml   --out tests/data/conekta/
The schemas in CRATE_COPIES are also written to (and checked in) those crates' directories.

Needs Python 3.11+ and PyYAML.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

# Component schemas to derive, by their name under components.schemas.
SCHEMAS: list[str] = [
    "order_request",
    "customer",
    "update_customer",
    "CreateCustomerPaymentMethods_request",
    "orderRefund_request",
    "order_capture_request",
]

# Known defects of the official spec, corrected here so the derived schemas accept what Conekta
# accepts. Each `oneOf` below lists branches that all require only `type`, so any payment source
# (`{"type": "card", "token_id": ...}`, `{"type": "cash_recurrent"}`) matches two or three of
# them and a strict `oneOf` would reject every request; `anyOf` is what the spec means.
ONE_OF_MEANS_ANY_OF = {
    "customer_payment_methods_request",
    "CreateCustomerPaymentMethods_request",
}

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "conekta" / "openapi.yaml"
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "conekta"

# Schemas a crate of the workspace embeds, written (and checked) there too: the Conekta
# simulator refuses order bodies as Conekta does, and a crate cannot reach into tests/.
CRATE_COPIES: dict[str, list[Path]] = {
    "order_request": [REPO_ROOT / "crates" / "conekta-sim" / "data"],
}

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMPONENT_PREFIX = "#/components/schemas/"

# OpenAPI keywords with no place in a plain JSON Schema.
DROPPED_KEYWORDS = {"example", "examples", "discriminator", "xml", "externalDocs", "nullable"}

# Keywords whose value is a schema.
SCHEMA_VALUED = {
    "items",
    "additionalItems",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalProperties",
}
# Keywords whose value is a list of schemas.
SCHEMA_LIST_VALUED = {"allOf", "anyOf", "oneOf", "prefixItems"}
# Keywords whose value maps names to schemas.
SCHEMA_MAP_VALUED = {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}


class DeriveError(Exception):
    """The spec cannot be turned into the requested schemas."""


def component_name(ref: str) -> str:
    if not ref.startswith(COMPONENT_PREFIX) or "/" in ref[len(COMPONENT_PREFIX):]:
        raise DeriveError(f"unsupported $ref {ref!r}: only {COMPONENT_PREFIX}<name> is handled")
    return ref[len(COMPONENT_PREFIX):]


def collect_refs(node: Any, found: set[str]) -> None:
    """Add the name of every component referenced anywhere under node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(component_name(value))
            else:
                collect_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            collect_refs(value, found)


def closure(components: dict[str, Any], root: str) -> list[str]:
    """Names of all components reachable from root (root excluded), sorted."""
    if root not in components:
        raise DeriveError(f"component schema {root!r} not found in the spec")
    seen: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in components:
            raise DeriveError(f"component schema {name!r} is referenced but not defined")
        seen.add(name)
        refs: set[str] = set()
        collect_refs(components[name], refs)
        todo.extend(sorted(refs - seen))
    seen.discard(root)
    return sorted(seen)


def convert(schema: Any, root: str) -> Any:
    """Return a JSON Schema 2020-12 copy of an OpenAPI 3.1 schema object."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        raise DeriveError(f"expected a schema object, got {schema!r}")

    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in DROPPED_KEYWORDS or key.startswith("x-"):
            continue
        if key == "$ref":
            name = component_name(value)
            out[key] = "#" if name == root else f"#/$defs/{name}"
        elif key in SCHEMA_VALUED:
            out[key] = convert(value, root)
        elif key in SCHEMA_LIST_VALUED:
            out[key] = [convert(item, root) for item in value]
        elif key in SCHEMA_MAP_VALUED:
            out[key] = {name: convert(sub, root) for name, sub in value.items()}
        elif key == "dependencies" and isinstance(value, dict):
            out[key] = {
                name: (sub if isinstance(sub, list) else convert(sub, root))
                for name, sub in value.items()
            }
        else:
            out[key] = value

    bound_integer_format(out)
    if schema.get("nullable") is True:
        out = make_nullable(out)
    return out


# OpenAPI integer formats carry ranges that JSON Schema validators do not check by themselves.
INTEGER_FORMAT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}


def bound_integer_format(schema: dict[str, Any]) -> None:
    """Spell a format's range out as minimum/maximum, keeping any tighter bound."""
    limits = INTEGER_FORMAT_RANGES.get(schema.get("format"))
    if limits is None:
        return
    low, high = limits
    schema["minimum"] = max(schema.get("minimum", low), low)
    schema["maximum"] = min(schema.get("maximum", high), high)


def make_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if "null" not in types:
            types = [*types, "null"]
        schema["type"] = types[0] if len(types) == 1 else types
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    # No type to widen (a $ref or a composition): accept null beside the schema itself.
    annotations = {k: schema.pop(k) for k in ("title", "description", "default") if k in schema}
    return {**annotations, "anyOf": [schema, {"type": "null"}]}


def derive(spec: dict[str, Any], root: str) -> dict[str, Any]:
    components = spec.get("components", {}).get("schemas", {})
    version = spec.get("info", {}).get("version", "unknown")
    defs = closure(components, root)

    document: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$comment": (
            "Derived by tools/derive_conekta_schemas.py from Conekta's OpenAPI spec "
            f"(MIT, (c) Conekta, Inc.), info.version {version}, component {root!r}. "
            "Do not edit: run the script again."
        ),
    }
    root_schema = convert(patched(components, root), root)
    for reserved in ("$schema", "$comment", "$defs"):
        if reserved in root_schema:
            raise DeriveError(f"component {root!r} already has {reserved!r}")
    document.update(root_schema)
    if defs:
        document["$defs"] = {name: convert(patched(components, name), root) for name in defs}
    return document


def patched(components: dict[str, Any], name: str) -> Any:
    """A component with the corrections listed in ONE_OF_MEANS_ANY_OF applied."""
    schema = components[name]
    if name in ONE_OF_MEANS_ANY_OF and isinstance(schema, dict) and "oneOf" in schema:
        schema = {("anyOf" if key == "oneOf" else key): value for key, value in schema.items()}
    return schema


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_spec(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            spec = yaml.safe_load(handle)
    except OSError as error:
        raise DeriveError(f"cannot read the spec {path}: {error}") from error
    if not isinstance(spec, dict) or "components" not in spec:
        raise DeriveError(f"{path} does not look like an OpenAPI document")
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC,
                        help=f"Conekta's OpenAPI file (default: {DEFAULT_SPEC})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"directory to write the schemas to (default: {DEFAULT_OUT})")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if any file on disk differs from what "
                             "would be written")
    args = parser.parse_args(argv)

    try:
        spec = load_spec(args.spec)
        rendered = {name: render(derive(spec, name)) for name in SCHEMAS}
    except DeriveError as error:
        print(f"derive_conekta_schemas: {error}", file=sys.stderr)
        return 2

    stale: list[Path] = []
    targets = [
        (directory / f"{name}.schema.json", text)
        for name, text in rendered.items()
        for directory in [args.out, *CRATE_COPIES.get(name, [])]
    ]
    for target, text in targets:
        try:
            current = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        if args.check:
            stale.append(target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {target}")

    if stale:
        for target in stale:
            print(f"out of date or missing: {target}", file=sys.stderr)
        print("run: python3 tools/derive_conekta_schemas.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
