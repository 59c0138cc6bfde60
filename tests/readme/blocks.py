"""The README's runnable blocks as one bash script, and a check of the docs' relative links.

    python3 blocks.py script README.md --port P --sandbox-port S --bin PATH --features "a b"
        prints the script: `set -euo pipefail`, then every ```sh block marked
        `<!-- readme-test -->` (or `<!-- readme-test: needs=FEATURE -->`, run only when FEATURE
        is in --features), in order. The README's ports (8080 for pagos, 8090 for the simulator)
        become the test's own, and `target/release/pagos` the binary under test; nothing else is
        changed. Refuses (exit 1) a ```sh block with a curl that is not marked, a curl in a
        marked block without -f (a failure would pass silently), and an unknown feature.

    python3 blocks.py links FILE...
        checks every relative link (and its #anchor) in the given Markdown files; exit 1 if one
        is broken. AWAITED lists files the README names before they exist.
"""

import argparse
import re
import sys
from pathlib import Path

FEATURES = {
    # `pagos sandbox trigger` and the simulator's POST /_sandbox/trigger
    "trigger",
    # `pagos deliveries list|show|retry|recover`
    "deliveries-cli",
}
# Screenshots of the sandbox pages, produced apart from the text that shows them.
AWAITED: set[str] = set()

MARKER = re.compile(r"^<!--\s*readme-test(?::\s*needs=([\w-]+))?\s*-->\s*$")
CURL_WITHOUT_FAIL = re.compile(r"\bcurl\b(?![^\n]*\s-[a-zA-Z]*f)")


def blocks(readme: Path):
    """Yields (line number, needs or None, marked, text) for every ```sh block."""
    lines = readme.read_text(encoding="utf-8").split("\n")
    marker = None
    i = 0
    while i < len(lines):
        line = lines[i]
        found = MARKER.match(line.strip())
        if found:
            marker = (found.group(1),)
        elif line.strip() == "```sh":
            start = i + 1
            end = start
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            text = "\n".join(lines[start:end])
            yield start, (marker[0] if marker else None), marker is not None, text
            marker = None
            i = end
        elif line.strip():
            marker = None  # a marker belongs to the block right below it
        i += 1


def script(args) -> int:
    readme = Path(args.readme)
    features = set(args.features.split())
    out = ["set -euo pipefail"]
    problems = []
    for line, needs, marked, text in blocks(readme):
        if not marked:
            if re.search(r"\bcurl\b", text):
                problems.append(f"{readme}:{line}: a curl block without <!-- readme-test --> above it")
            continue
        if needs is not None and needs not in FEATURES:
            problems.append(f"{readme}:{line}: unknown feature needs={needs}")
            continue
        for command in re.finditer(r"\bcurl\b[^\n]*", text):
            if CURL_WITHOUT_FAIL.match(command.group(0)):
                problems.append(f"{readme}:{line}: curl without -f: {command.group(0)[:60]}")
        if needs is not None and needs not in features:
            out.append(f"echo '== README line {line}: skipped (needs {needs}, not in this build)'")
            continue
        text = (
            text.replace("127.0.0.1:8080", f"127.0.0.1:{args.port}")
            .replace("127.0.0.1:8090", f"127.0.0.1:{args.sandbox_port}")
            .replace("target/release/pagos", args.bin)
        )
        out.append(f"echo '== README line {line}'")
        out.append(text)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    out.append("echo '== README: every runnable block ran'")
    print("\n".join(out))
    return 0


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set:
    found = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            found.add(slug(line.lstrip("#")))
    return found


def links(args) -> int:
    root = Path(args.root).resolve()
    broken = []
    awaited = []
    for name in args.files:
        path = Path(name)
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto: not checked here
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path.resolve()
            relative = str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(resolved)
            if not resolved.exists():
                (awaited if relative in AWAITED else broken).append(f"{name}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{name}: {target} (no such heading)")
    for link in awaited:
        print(f"links: awaited, not there yet: {link}")
    if broken:
        print("links: broken:\n  " + "\n  ".join(broken), file=sys.stderr)
        return 1
    print(f"links: ok in {len(args.files)} files")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("script")
    s.add_argument("readme")
    s.add_argument("--port", required=True)
    s.add_argument("--sandbox-port", required=True)
    s.add_argument("--bin", required=True)
    s.add_argument("--features", default="")
    s.set_defaults(run=script)
    lk = commands.add_parser("links")
    lk.add_argument("--root", default=".")
    lk.add_argument("files", nargs="+")
    lk.set_defaults(run=links)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
