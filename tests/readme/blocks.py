"""The README's runnable blocks as one bash script, and a check of the docs' relative links.

    python3 blocks.py script README.md --port P --sandbox-port S --bin PATH
        prints the script: `set -euo pipefail`, then every ```sh block marked
        `<!-- readme-test -->`, in order. The README's ports (8080 for pagos, 8090 for the simulator)
        become the test's own, and `target/release/pagos` the binary under test; nothing else is
        changed. Refuses (exit 1) a ```sh block with a curl that is not marked, and a curl in a
        marked block without -f (a failure would pass silently).

    python3 blocks.py links FILE...
        checks every relative link (and its #anchor) in the given Markdown files; exit 1 if one
        is broken.
"""

import argparse
import re
import sys
from pathlib import Path


MARKER = re.compile(r"^<!--\s*readme-test\s*-->\s*$")
CURL_WITHOUT_FAIL = re.compile(r"\bcurl\b(?![^\n]*\s-[a-zA-Z]*f)")


def blocks(readme: Path):
    """Yields (line number, marked, text) for every ```sh block."""
    lines = readme.read_text(encoding="utf-8").split("\n")
    marked = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if MARKER.match(line.strip()):
            marked = True
        elif line.strip() == "```sh":
            start = i + 1
            end = start
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            text = "\n".join(lines[start:end])
            yield start, marked, text
            marked = False
            i = end
        elif line.strip():
            marked = False  # a marker belongs to the block right below it
        i += 1


def script(args) -> int:
    readme = Path(args.readme)
    out = ["set -euo pipefail"]
    problems = []
    for line, marked, text in blocks(readme):
        if not marked:
            if re.search(r"\bcurl\b", text):
                problems.append(f"{readme}:{line}: a curl block without <!-- readme-test --> above it")
            continue
        for command in re.finditer(r"\bcurl\b[^\n]*", text):
            if CURL_WITHOUT_FAIL.match(command.group(0)):
                problems.append(f"{readme}:{line}: curl without -f: {command.group(0)[:60]}")
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
    broken = []
    for name in args.files:
        path = Path(name)
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto: not checked here
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path.resolve()
            if not resolved.exists():
                broken.append(f"{name}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{name}: {target} (no such heading)")
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
    s.set_defaults(run=script)
    lk = commands.add_parser("links")
    lk.add_argument("files", nargs="+")
    lk.set_defaults(run=links)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
