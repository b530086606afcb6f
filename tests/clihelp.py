"""Helpers shared by the CLI tests: run healthkb in-process the way the
console script does (so errors map to the real exit codes), and write small
articles in the on-disk format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from healthkb.cli import main

REPO_DIR = Path(__file__).resolve().parents[1]
STARTER_DIR = REPO_DIR / "kb"
SEED_ID = "000_ec7fe29246c6fc0e"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)

    def ids(self) -> list[str]:
        return [hit["id"] for hit in self.json["hits"]]

    def notices(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("healthkb: ")]


def run_cli(*args: str, env: dict[str, str] | None = None, color: bool = False, input: str | None = None) -> Run:
    """Run the CLI in-process; every run also checks that no traceback leaked.

    ``color=True`` stops click from stripping escape codes, as it does for
    output that is not a terminal."""
    runner = CliRunner()
    with runner.isolation(input=input, env=env, color=color) as (out, err, _mixed):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        result = Run(code, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8", "replace"))
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    return result


class EntryPoint:
    """Lets ``CliRunner.invoke`` run ``healthkb.cli.main`` (real exit codes, input)."""

    name = "healthkb"

    def main(self, args=(), prog_name=None, **_extra):
        main(list(args))


def invoke(*args, input: str | None = None):
    return CliRunner().invoke(EntryPoint(), [str(a) for a in args], input=input)


def article(body: str, prev: str | None = None, nxt: str | None = None, teasers=(), heading: str | None = None) -> str:
    """An article in the on-disk format: body ending " |", then the footer."""
    lines = [f"# {heading}"] if heading else []
    lines.append(body.rstrip() + " |")
    if prev:
        lines.append(f"<<: {prev}")
    if nxt:
        lines.append(f">>: {nxt}")
    lines += [f"{t}..." for t in teasers]
    return "\n".join(lines) + "\n"


def starter_files() -> dict[str, bytes]:
    """The repo's starter articles, as {relative path: bytes} for make_kb."""
    return {p.relative_to(STARTER_DIR).as_posix(): p.read_bytes() for p in STARTER_DIR.rglob("*.txt")}
