"""No `default:` in what a client sends: openapi.yaml's request bodies and parameters.

Generators read a schema's `default` as "always present": openapi-typescript (default options)
makes such a property required, so a client could not leave it out. The default a server applies
is said in the description instead. Run by tests/contract/run.sh; exit 1 naming each offender.
"""

import sys

import yaml

spec = yaml.safe_load(open(sys.argv[1] if len(sys.argv) > 1 else "openapi.yaml", encoding="utf-8"))


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def walk(schema, where, seen, found):
    if isinstance(schema, dict) and "$ref" in schema:
        if schema["$ref"] in seen:
            return
        seen = seen | {schema["$ref"]}
    schema = resolve(schema)
    if not isinstance(schema, dict):
        return
    if "default" in schema:
        found.append(where)
    for name, sub in (schema.get("properties") or {}).items():
        walk(sub, f"{where}.{name}", seen, found)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            walk(schema[key], f"{where}[{key}]", seen, found)
    for key in ("oneOf", "anyOf", "allOf"):
        for n, sub in enumerate(schema.get(key) or []):
            walk(sub, f"{where}<{key}[{n}]>", seen, found)


found = []
for path, item in spec.get("paths", {}).items():
    for method, operation in item.items():
        if method not in ("get", "put", "post", "delete", "patch", "head", "options"):
            continue
        where = f"{method.upper()} {path}"
        for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
            parameter = resolve(parameter)
            walk(parameter.get("schema", {}), f"{where} parameter {parameter['name']}", set(), found)
        body = resolve(operation.get("requestBody", {}))
        for media, content in (body.get("content") or {}).items():
            walk(content.get("schema", {}), f"{where} body ({media})", set(), found)

if found:
    print("request-side `default:` (say it in the description instead):\n  " + "\n  ".join(found))
    sys.exit(1)
print("request defaults: none in request bodies or parameters")
