"""Generate the footers of the starter knowledge base (kb/) from scripts/starter_kb.toml.

This script owns the footer of every starter article: the ``<<:``/``>>:`` nav
chain and the teaser lines. Authors write only the body (ending in `` |``);
the toml lists the articles in chain order with their title and the related
articles to tease. Running the script rewrites each file as

    <body, unchanged, last line ending in " |">
    <<: <title of the previous article>     (not for the first article)
    >>: <title of the next article>         (not for the last article)
    <first 49 characters of a related article's body>...   (one per related)

so that editing an article's opening keeps every teaser that points at it true.

Before writing anything it verifies, and fails loudly (exit 2) otherwise:
- every article's title slugs to its file name, and titles are unique;
- bodies follow the house format (single-line paragraphs, one blank line
  between them, a first paragraph of at least 60 characters, 150-600 words,
  no line that could be mistaken for a footer line);
- every teaser resolves to exactly one article (normalised as SPEC section 2
  does: NFKC, case-folded, punctuation and spacing ignored); no starter
  teaser is shared on purpose, so any overlap is an error;
- the seed article's teasers each open exactly one starter article and its
  nav titles name starter articles (skipped with a note when neither the
  shared seed nor the copy under tests/data is there).

The toml's ``[seed]`` table puts the seed article (which the README adds
with ``healthkb add``) into the chain after the article named by ``after``:
that article's ``>>:`` and the next one's ``<<:`` name the seed by
``title``, so that once the seed is added every nav link is two-way (and
the seed takes that title).  Until then those two links are missing.

Usage: python scripts/build_starter_kb.py [--check] [--kb DIR] [--config FILE] [--seed FILE]
``--check`` changes nothing and exits 1 when any file would change.
The script is idempotent: a second run changes nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

TEASER_LENGTH = 49
TEASER_DOTS = "..."
BODY_CLOSER = " |"
PREV_PREFIX = "<<: "
NEXT_PREFIX = ">>: "
MIN_RELATED, MAX_RELATED = 5, 17
MIN_WORDS, MAX_WORDS = 150, 600
MIN_FIRST_PARAGRAPH = 60

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KB = REPO_ROOT / "kb"
DEFAULT_CONFIG = Path(__file__).resolve().with_name("starter_kb.toml")
SEED_NAME = "000_ec7fe29246c6fc0e.txt"
# The seed lives beside the repository in the shared workspace; the tests keep
# a byte-identical copy, used when the shared folder is not there.
SHARED_SEED = REPO_ROOT.parent / "shared" / "seeds" / SEED_NAME
BUNDLED_SEED = REPO_ROOT / "tests" / "data" / SEED_NAME
DEFAULT_SEED = SHARED_SEED if SHARED_SEED.is_file() else BUNDLED_SEED


class StarterKBError(Exception):
    """The toml or the articles are inconsistent; carries every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ArticleSpec:
    """One ``[[article]]`` entry of the toml, in chain order."""

    id: str
    title: str
    related: tuple[str, ...]


@dataclass(frozen=True)
class SeedFooter:
    """What the seed's footer asks of the starter KB."""

    nav_titles: tuple[str, ...]
    teasers: tuple[str, ...]


@dataclass(frozen=True)
class PlannedFile:
    """The current and the generated text of one starter article."""

    id: str
    path: Path
    old_text: str
    new_text: str

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text


@dataclass(frozen=True)
class SeedPlace:
    """Where the seed article sits in the chain, and the title it goes by."""

    title: str
    after: str


def load_seed_place(config_path: Path, specs: list[ArticleSpec]) -> SeedPlace | None:
    with config_path.open("rb") as handle:
        entry = tomllib.load(handle).get("seed")
    if entry is None:
        return None
    title, after = entry.get("title"), entry.get("after")
    if not isinstance(title, str) or not isinstance(after, str):
        raise StarterKBError(["[seed]: needs title (str) and after (str)"])
    ids = [spec.id for spec in specs]
    after = _strip_id(after)
    if after not in ids[:-1]:
        raise StarterKBError([f"[seed]: after {after!r} must be an article of the chain other than the last"])
    if normalise(title) in {normalise(spec.title) for spec in specs}:
        raise StarterKBError([f"[seed]: title {title!r} is a starter article's title"])
    return SeedPlace(title.strip(), after)


@dataclass(frozen=True)
class BuildPlan:
    files: tuple[PlannedFile, ...]
    seed_checked: bool


def slugify(title: str) -> str:
    """Lower-case words joined by '-'; apostrophes vanish so "don't" -> "dont"."""
    text = unicodedata.normalize("NFKC", title).casefold()
    text = re.sub(r"['\u2019]", "", text)
    return re.sub(r"[^0-9a-z]+", "-", text).strip("-")


def normalise(text: str) -> str:
    """Matching key for titles and teasers: NFKC, case-folded, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def teaser_text(body: str) -> str:
    """The part of a teaser line that points at this body (without the dots)."""
    return body[:TEASER_LENGTH]


def body_words(body: str) -> list[str]:
    """Words of a body, not counting the closing '|'."""
    return body.removesuffix(BODY_CLOSER).split()


def _strip_id(raw: str) -> str:
    return raw.strip().removesuffix(".txt").strip("/")


def load_specs(config_path: Path) -> list[ArticleSpec]:
    """Read the toml and check it is self-consistent (ids, titles, related lists)."""
    with config_path.open("rb") as handle:
        data = tomllib.load(handle)
    entries = data.get("article")
    if not isinstance(entries, list) or not entries:
        raise StarterKBError([f"{config_path}: no [[article]] entries"])
    problems: list[str] = []
    specs: list[ArticleSpec] = []
    for number, entry in enumerate(entries, start=1):
        path, title, related = entry.get("path"), entry.get("title"), entry.get("related")
        if not isinstance(path, str) or not isinstance(title, str) or not isinstance(related, list):
            problems.append(f"article #{number}: needs path (str), title (str) and related (list)")
            continue
        specs.append(ArticleSpec(_strip_id(path), title.strip(), tuple(_strip_id(r) for r in related)))

    ids = [spec.id for spec in specs]
    known = set(ids)
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{duplicate}: listed more than once")
    titles_seen: dict[str, str] = {}
    for spec in specs:
        stem = spec.id.rsplit("/", 1)[-1]
        if slugify(spec.title) != stem:
            problems.append(f"{spec.id}: title {spec.title!r} slugs to {slugify(spec.title)!r}, not the file name {stem!r}")
        key = normalise(spec.title)
        if key in titles_seen:
            problems.append(f"{spec.id}: title duplicates the title of {titles_seen[key]}")
        titles_seen[key] = spec.id
        if not MIN_RELATED <= len(spec.related) <= MAX_RELATED:
            problems.append(f"{spec.id}: {len(spec.related)} related articles, want {MIN_RELATED}-{MAX_RELATED}")
        if len(set(spec.related)) != len(spec.related):
            problems.append(f"{spec.id}: a related article is listed twice")
        for target in spec.related:
            if target == spec.id:
                problems.append(f"{spec.id}: lists itself as related")
            elif target not in known:
                problems.append(f"{spec.id}: related {target!r} is not an article in the toml")
    if problems:
        raise StarterKBError(problems)
    return specs


def split_body(text: str, article_id: str) -> str:
    """Return the body (up to and including the line ending in " |") of a starter file.

    Anything after that line must look like an old footer, so that a paragraph
    typed below the closing bar is reported instead of silently thrown away.
    """
    lines = text.split("\n")
    closers = [n for n, line in enumerate(lines) if line.endswith(BODY_CLOSER)]
    if not closers:
        raise StarterKBError([f"{article_id}: no body line ends with {BODY_CLOSER!r}"])
    last = closers[-1]
    for line in lines[last + 1:]:
        is_footer = (
            line == ""
            or line.startswith((PREV_PREFIX, NEXT_PREFIX))
            or line.endswith((TEASER_DOTS, "\u2026"))
        )
        if not is_footer:
            raise StarterKBError([f"{article_id}: text after the closing bar is not a footer line: {line[:60]!r}"])
    return "\n".join(lines[: last + 1])


def body_problems(body: str, article_id: str) -> list[str]:
    """House-format rules for a body written by hand (see the module docstring)."""
    problems: list[str] = []
    where = article_id
    if body.startswith("\ufeff") or "\r" in body:
        problems.append(f"{where}: use UTF-8 without BOM and LF line ends")
    if any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in body):
        problems.append(f"{where}: contains control characters or tabs")
    if body.startswith("# "):
        problems.append(f"{where}: starter articles carry no '# Title' line (the toml holds the title)")
    lines = body.split("\n")
    paragraphs = lines[0::2]
    separators = lines[1::2]
    if len(lines) % 2 == 0 or any(separators) or not all(p.strip() for p in paragraphs):
        problems.append(f"{where}: paragraphs must be single non-empty lines separated by exactly one blank line")
    if len(lines[0]) < MIN_FIRST_PARAGRAPH:
        problems.append(f"{where}: first paragraph shorter than {MIN_FIRST_PARAGRAPH} characters")
    for number, line in enumerate(lines, start=1):
        if line.startswith(("<<:", ">>:")):
            problems.append(f"{where}: body line {number} starts like a nav line")
        if line.endswith((TEASER_DOTS, "\u2026")):
            problems.append(f"{where}: body line {number} ends like a teaser")
        if line != line.rstrip() or line != line.lstrip():
            problems.append(f"{where}: body line {number} has leading or trailing spaces")
        if number < len(lines) and line.endswith(BODY_CLOSER):
            problems.append(f"{where}: only the last body line may end with {BODY_CLOSER!r}")
    words = len(body_words(body))
    if not MIN_WORDS <= words <= MAX_WORDS:
        problems.append(f"{where}: {words} words, want {MIN_WORDS}-{MAX_WORDS}")
    return problems


def render(body: str, prev_title: str | None, next_title: str | None, teasers: list[str]) -> str:
    """The full text of an article file: body, nav lines, teaser lines, final LF."""
    lines = [body]
    if prev_title is not None:
        lines.append(PREV_PREFIX + prev_title)
    if next_title is not None:
        lines.append(NEXT_PREFIX + next_title)
    lines.extend(teaser + TEASER_DOTS for teaser in teasers)
    return "\n".join(lines) + "\n"


def read_seed_footer(seed_path: Path) -> SeedFooter | None:
    """Nav titles and teaser texts of the seed article, or None if it is absent."""
    if not seed_path.is_file():
        return None
    lines = seed_path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    teasers: list[str] = []
    while lines and lines[-1].endswith((TEASER_DOTS, "\u2026")) and not lines[-1].endswith(BODY_CLOSER):
        last = lines.pop()
        teasers.append(last.removesuffix(TEASER_DOTS).removesuffix("\u2026"))
    nav: list[str] = []
    while lines and lines[-1].startswith((PREV_PREFIX, NEXT_PREFIX)):
        nav.append(lines.pop()[len(PREV_PREFIX):].strip())
    return SeedFooter(tuple(reversed(nav)), tuple(reversed(teasers)))


def seed_body(seed_path: Path) -> str | None:
    """The seed's body, so starter teasers can be checked not to prefix it too."""
    if not seed_path.is_file():
        return None
    text = seed_path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    try:
        return split_body(text, "seed")
    except StarterKBError:
        return None


def _teaser_problems(bodies: dict[str, str], extra_bodies: dict[str, str]) -> list[str]:
    """Each starter teaser must open exactly one body (starters plus the seed)."""
    problems: list[str] = []
    keys = {article_id: normalise(body) for article_id, body in {**bodies, **extra_bodies}.items()}
    for article_id, body in bodies.items():
        teaser_key = normalise(teaser_text(body))
        openers = sorted(other for other, key in keys.items() if key.startswith(teaser_key))
        if openers != [article_id]:
            problems.append(f"{article_id}: its teaser {teaser_text(body)!r} also opens {[o for o in openers if o != article_id]}")
    return problems


def _seed_problems(footer: SeedFooter, bodies: dict[str, str], specs: list[ArticleSpec]) -> list[str]:
    problems: list[str] = []
    for teaser in footer.teasers:
        openers = [article_id for article_id, body in bodies.items() if body.startswith(teaser)]
        if len(openers) != 1:
            problems.append(f"seed teaser {teaser!r} opens {len(openers)} starter articles, want exactly 1")
    titles = {normalise(spec.title) for spec in specs}
    for title in footer.nav_titles:
        if normalise(title) not in titles:
            problems.append(f"seed nav title {title!r} is not a starter article title")
    return problems


def build_plan(kb_dir: Path, config_path: Path, seed_path: Path) -> BuildPlan:
    """Read everything, verify it, and compute each file's new text (writes nothing)."""
    specs = load_specs(config_path)
    problems: list[str] = []
    listed = {spec.id for spec in specs}
    on_disk = {p.relative_to(kb_dir).with_suffix("").as_posix() for p in kb_dir.rglob("*.txt")}
    problems += [f"{i}: file not listed in {config_path.name}" for i in sorted(on_disk - listed)]
    problems += [f"{i}: listed in {config_path.name} but kb/{i}.txt does not exist" for i in sorted(listed - on_disk)]
    if problems:
        raise StarterKBError(problems)

    old_texts: dict[str, str] = {}
    bodies: dict[str, str] = {}
    for spec in specs:
        raw = (kb_dir / f"{spec.id}.txt").read_bytes()
        try:
            old_texts[spec.id] = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(f"{spec.id}: not valid UTF-8 ({error.reason})")
            continue
        try:
            bodies[spec.id] = split_body(old_texts[spec.id], spec.id)
        except StarterKBError as error:
            problems += error.problems
            continue
        problems += body_problems(bodies[spec.id], spec.id)
    if problems:
        raise StarterKBError(problems)

    extra = {}
    seed_text = seed_body(seed_path)
    if seed_text is not None:
        extra["<seed>"] = seed_text
    problems += _teaser_problems(bodies, extra)
    footer = read_seed_footer(seed_path)
    if footer is not None:
        problems += _seed_problems(footer, bodies, specs)
    if problems:
        raise StarterKBError(problems)

    seed = load_seed_place(config_path, specs)
    if seed is not None and footer is not None:
        at = [spec.id for spec in specs].index(seed.after)
        around = (normalise(specs[at].title), normalise(specs[at + 1].title))
        if tuple(normalise(t) for t in footer.nav_titles) != around:
            raise StarterKBError([f"[seed]: the seed's nav lines do not name {seed.after} and the article after it"])
    files = []
    for position, spec in enumerate(specs):
        prev_title = specs[position - 1].title if position > 0 else None
        next_title = specs[position + 1].title if position + 1 < len(specs) else None
        if seed is not None and spec.id == seed.after:
            next_title = seed.title
        if seed is not None and position > 0 and specs[position - 1].id == seed.after:
            prev_title = seed.title
        teasers = [teaser_text(bodies[target]) for target in spec.related]
        new_text = render(bodies[spec.id], prev_title, next_title, teasers)
        files.append(PlannedFile(spec.id, kb_dir / f"{spec.id}.txt", old_texts[spec.id], new_text))
    return BuildPlan(tuple(files), seed_checked=footer is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the footers of the starter KB.")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any file would change")
    parser.add_argument("--kb", type=Path, default=DEFAULT_KB, help="the starter KB folder (default: kb/)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the article list (default: scripts/starter_kb.toml)")
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED, help="the seed article whose footer must resolve")
    args = parser.parse_args(argv)
    try:
        plan = build_plan(args.kb, args.config, args.seed)
    except StarterKBError as error:
        print(f"build_starter_kb: {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if not plan.seed_checked:
        print(f"note: seed {args.seed} not found; seed teaser coverage not checked", file=sys.stderr)
    stale = [f for f in plan.files if f.changed]
    if args.check:
        for planned in stale:
            print(f"out of date: {planned.id}", file=sys.stderr)
        print(f"{len(plan.files)} articles, {len(stale)} out of date")
        return 1 if stale else 0
    for planned in stale:
        # newline="" keeps LF line ends on every platform.
        planned.path.write_text(planned.new_text, encoding="utf-8", newline="")
    print(f"{len(plan.files)} articles, {len(stale)} rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
