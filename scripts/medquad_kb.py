"""Convert MedQuAD (NIH question-answer pairs, XML) into a healthkb knowledge base.

Usage:
    python scripts/medquad_kb.py --data ../shared/realworld [--out DIR]

The layout follows ``../shared/realworld/README.md`` so that article ids match
the LiveQA judgments (``dev-qrels.tsv``):

* one article per QA pair with a non-empty answer, at
  ``<collection folder>/<qid>.txt`` (id e.g. ``3_GHR_QA/0000163-1``);
* a ``# <question>`` first line, the answer as the body, its last line ending
  `` |``;
* a footer: ``<<:``/``>>:`` naming the previous/next kept QA pair's question
  of the same Document, then teasers (the first 49 characters of the body and
  ``...``) of up to 10 other QA pairs of that Document, in document order;
* where two QA pairs of a collection share a qid, the first in file-name
  order is kept.

The KB is written once and reused: :func:`ensure_kb` rewrites it only when
the source folder or this converter changed (a stamp file records both).
Stdlib only, so the evaluation and the benchmark can import it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

TEASER_CHARS = 49
MAX_TEASERS = 10
CONVERTER_VERSION = "1"
STAMP_NAME = ".medquad-stamp"


@dataclass(frozen=True)
class Pair:
    qid: str
    question: str
    answer: str


def _clean_lines(text: str) -> list[str]:
    """The answer's lines, stripped, without blank runs at either end."""
    lines = [" ".join(line.split()) for line in text.replace("\r", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):  # at most one blank line between paragraphs
            out.append(line)
    return out


def document_pairs(path: Path) -> list[Pair]:
    """The QA pairs of one MedQuAD XML document that carry an answer."""
    root = ElementTree.parse(path).getroot()
    pairs = []
    for node in root.iter("QAPair"):
        question = node.find("Question")
        answer = node.find("Answer")
        if question is None or answer is None:
            continue
        qid = (question.get("qid") or "").strip()
        text = "".join(answer.itertext()).strip()
        if not qid or not text:
            continue
        pairs.append(Pair(qid, " ".join("".join(question.itertext()).split()), text))
    return pairs


def article_text(pairs: list[Pair], at: int) -> str:
    pair = pairs[at]
    lines = [f"# {pair.question}", *_clean_lines(pair.answer)]
    lines[-1] += " |"
    if at > 0:
        lines.append(f"<<: {pairs[at - 1].question}")
    if at + 1 < len(pairs):
        lines.append(f">>: {pairs[at + 1].question}")
    others = [p for n, p in enumerate(pairs) if n != at][:MAX_TEASERS]
    for other in others:
        body = " ".join(other.answer.split())
        lines.append(body[:TEASER_CHARS] + "...")
    return "\n".join(lines) + "\n"


def convert(medquad: Path, out: Path) -> int:
    """Write the KB into ``out`` (emptied first); return the article count."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    count = 0
    for collection in sorted(p for p in medquad.iterdir() if p.is_dir()):
        seen: set[str] = set()
        target = out / collection.name
        target.mkdir()
        for xml_path in sorted(collection.glob("*.xml")):
            try:
                pairs = document_pairs(xml_path)
            except ElementTree.ParseError as exc:
                print(f"medquad: skipped {xml_path.name}: {exc}", file=sys.stderr)
                continue
            for at, pair in enumerate(pairs):
                if pair.qid in seen:
                    continue
                seen.add(pair.qid)
                (target / f"{pair.qid}.txt").write_text(article_text(pairs, at), encoding="utf-8")
                count += 1
    return count


def _source_stamp(medquad: Path) -> str:
    digest = hashlib.sha256(CONVERTER_VERSION.encode())
    digest.update(Path(__file__).read_bytes())
    for path in sorted(medquad.rglob("*.xml")):
        stat = path.stat()
        digest.update(f"{path.relative_to(medquad)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "healthkb-eval" / "medquad-kb"


def ensure_kb(data: Path, out: Path | None = None, *, log=print) -> Path:
    """The converted KB for ``data`` (the realworld folder), converting only
    when the cached copy is missing or out of date."""
    medquad = data / "medquad"
    if not medquad.is_dir():
        raise SystemExit(f"medquad: no medquad/ folder in {data}")
    out = out or default_cache()
    stamp = _source_stamp(medquad)
    stamp_file = out / STAMP_NAME
    if stamp_file.is_file() and stamp_file.read_text() == stamp:
        return out
    log(f"medquad: converting {medquad} into {out} …")
    count = convert(medquad, out)
    stamp_file.write_text(stamp)
    log(f"medquad: {count:,} articles")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "realworld")
    parser.add_argument("--out", type=Path, default=None, help="where the KB goes (default: a cache folder)")
    args = parser.parse_args()
    print(ensure_kb(args.data, args.out))


if __name__ == "__main__":
    main()
