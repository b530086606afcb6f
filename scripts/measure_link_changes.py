#!/usr/bin/env python3
"""Time and peak memory of `healthkb reindex` after one change to a built KB
(issue 15: add / remove / edit the first sentence / rename one article).

    python scripts/measure_link_changes.py KB_DIR [--hub 50000]

KB_DIR must hold an up-to-date index (`healthkb --kb KB_DIR reindex`).  Each
change is made, measured with /usr/bin/time -v (wall seconds, CPU seconds,
maximum resident set), and undone by the next one, so the KB ends as it
started.

    python scripts/measure_link_changes.py NEW_DIR --hub 50000

measures the bad input "one article linked from N others" instead: it writes
N short articles whose one teaser quotes a hub article into NEW_DIR, builds
the index, then times removing the hub (N links turn missing) and adding it
back (N links resolve again).
Prints one line per change and the catalog size beside the corpus size.
Stdlib only; the machine's load is printed too, since wall time depends on it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

NEW_ARTICLE = (
    "Measuring one added article: this opening sentence is new to the corpus and long enough. "
    "More words follow so that the body is an ordinary body. |\n"
    "<<: Some title that may or may not exist\n"
)


def reindex(kb: Path) -> dict[str, float]:
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "healthkb", "--kb", str(kb), "reindex"],
        capture_output=True, text=True, check=True,
    )
    found = {}
    for name, pattern in (
        ("wall", r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+(?:\.\d+)?)"),
        ("user", r"User time \(seconds\): ([\d.]+)"),
        ("sys", r"System time \(seconds\): ([\d.]+)"),
        ("rss_mb", r"Maximum resident set size \(kbytes\): (\d+)"),
    ):
        match = re.search(pattern, done.stderr)
        if name == "wall":
            found[name] = float(match.group(1) or 0) * 60 + float(match.group(2))
        else:
            found[name] = float(match.group(1))
    found["rss_mb"] /= 1024
    found["summary"] = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return found


def bump(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def articles(kb: Path) -> list[Path]:
    return sorted(p for p in kb.rglob("*.txt") if ".healthkb" not in p.parts)


def report(label: str, found: dict) -> None:
    cpu = found["user"] + found["sys"]
    print(f"{label:24s} wall {found['wall']:6.2f} s  cpu {cpu:6.2f} s  peak {found['rss_mb']:6.1f} MB  | {found['summary']}")


HUB_OPENING = "The measured hub article opens with this sentence that all others quote"


def measure_hub(kb: Path, count: int) -> None:
    folder = kb / "linking"
    folder.mkdir(parents=True, exist_ok=False)
    for n in range(count):
        (folder / f"article-{n:06d}.txt").write_text(
            f"Article {n} of the hub measurement has a short body of its own words. |\n{HUB_OPENING[:49]}...\n",
            encoding="utf-8",
        )
    hub = kb / "hub" / "the-hub.txt"
    hub.parent.mkdir()
    hub.write_text(HUB_OPENING + ". More words. |\n", encoding="utf-8")
    report(f"build hub + {count}", reindex(kb))
    hub.unlink()
    report("remove hub", reindex(kb))
    hub.write_text(HUB_OPENING + ". More words. |\n", encoding="utf-8")
    report("add hub back", reindex(kb))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kb", type=Path)
    parser.add_argument("--hub", type=int, default=0, help="also measure one article linked from N others")
    args = parser.parse_args()
    kb = args.kb.resolve()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.hub:
        measure_hub(kb, args.hub)
        return
    files = articles(kb)
    folder = files[0].parent
    report("no change", reindex(kb))

    added = folder / "measured-new-article.txt"
    added.write_text(NEW_ARTICLE, encoding="utf-8")
    report("add one", reindex(kb))
    added.unlink()
    report("remove one", reindex(kb))

    target = files[len(files) // 2]
    original = target.read_bytes()
    target.write_bytes(b"A rewritten first sentence for the measurement, quite long. " + original)
    bump(target)
    report("edit first sentence", reindex(kb))
    target.write_bytes(original)
    bump(target)
    report("undo first sentence", reindex(kb))

    renamed = target.with_name("renamed-for-measurement.txt")
    target.rename(renamed)
    report("rename one", reindex(kb))
    renamed.rename(target)
    report("rename back", reindex(kb))

    catalog = kb / ".healthkb" / "catalog.sqlite"
    corpus = sum(p.stat().st_size for p in articles(kb))
    print(f"catalog {catalog.stat().st_size / 1e6:.1f} MB, corpus {corpus / 1e6:.1f} MB, "
          f"ratio {catalog.stat().st_size / corpus:.3f}")


if __name__ == "__main__":
    main()
