"""Tests for the index (SPEC §3): first build, incremental updates by size,
mtime and hash, rebuilds after damage or a schema change, links recomputed
on change, the write lock, and the parallel (sharded) build.

Every test works on real files under tmp_path: the starter KB of the repo
plus the seed, or small hand-made articles.  CLI runs go through
``healthkb.cli.main`` in-process, or a real ``healthkb`` process where
separate processes matter (locks, shard workers).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from healthkb.cli import main
from healthkb.files import STATE_DIR_NAME
from healthkb.index.api import open_index, reindex
from healthkb.index.catalog import CATALOG_NAME, SCHEMA_VERSION
from healthkb.index.lock import WriteLock
from healthkb.kb import KB

from clihelp import REPO_DIR, SEED_ID, STARTER_DIR, Run, article, run_cli, starter_files  # noqa: F401


# ---------------------------------------------------------------- helpers


def run_proc(*args: str, extra_env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """Run a real healthkb process (same interpreter, same environment)."""
    env = dict(os.environ)
    env.update(extra_env or {})
    done = subprocess.run(
        [sys.executable, "-m", "healthkb", *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert "internal error" not in done.stderr, done.stderr
    return Run(done.returncode, done.stdout, done.stderr)


def starter_and_seed(seed_path: Path) -> dict[str, bytes]:
    files = starter_files()
    files[seed_path.name] = seed_path.read_bytes()
    return files


@pytest.fixture
def starter_kb(make_kb, seed_path) -> Path:
    """The starter KB plus the seed, in the folder HEALTHKB_KB points at."""
    return make_kb(starter_and_seed(seed_path))


def kb_of(root: Path) -> KB:
    return KB(root.resolve(), "option")


def state_of(root: Path) -> Path:
    return root / STATE_DIR_NAME


def search_ids(query: str, *args: str) -> list[str]:
    result = run_cli("search", query, "--json", "--limit", "50", *args)
    assert result.code in (0, 1), result.stderr
    return [hit["id"] for hit in json.loads(result.stdout)["hits"]]


def indexed_ids(root: Path) -> list[str]:
    """Every id the Whoosh index holds (all shards), duplicates kept."""
    with open_index(kb_of(root), refresh=False) as ix:
        reader = ix.searcher().searcher.reader()
        return sorted(fields["id"] for _n, fields in reader.iter_docs())


def catalog_meta(root: Path, key: str) -> str | None:
    db = sqlite3.connect(state_of(root) / CATALOG_NAME)
    try:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    finally:
        db.close()
    return row[0] if row else None


def bump_mtime(path: Path, seconds: float = 5) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + int(seconds * 1e9)))


# ---------------------------------------------------------------- first use and updates


def test_first_use_builds_the_index(starter_kb):
    expected = sorted(p.relative_to(starter_kb).with_suffix("").as_posix() for p in starter_kb.rglob("*.txt"))
    assert not state_of(starter_kb).exists()
    result = run_cli("list", "--json")
    assert result.code == 0
    listed = sorted(a["id"] for a in json.loads(result.stdout)["articles"])
    assert listed == expected
    assert (state_of(starter_kb) / CATALOG_NAME).is_file()
    assert list(state_of(starter_kb).glob("whoosh-*"))
    assert indexed_ids(starter_kb) == expected
    assert result.notices() == []  # a first build is not news


def test_touch_without_change_is_reported_unchanged(starter_kb):
    reindex(kb_of(starter_kb))
    target = starter_kb / "back" / "sitting-posture-and-lumbar-pain.txt"
    bump_mtime(target)
    report = reindex(kb_of(starter_kb))
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert report.unchanged == len(list(starter_kb.rglob("*.txt")))
    # The new mtime is remembered, so the file is not read again next time.
    with open_index(kb_of(starter_kb), refresh=False) as ix:
        row = ix.catalog.article("back/sitting-posture-and-lumbar-pain")
        assert row.mtime_ns == target.stat().st_mtime_ns


def test_a_file_with_the_same_size_and_mtime_is_not_reread(starter_kb):
    reindex(kb_of(starter_kb))
    target = starter_kb / "back" / "sitting-posture-and-lumbar-pain.txt"
    before = target.stat()
    text = target.read_text(encoding="utf-8")
    assert "slumped" in text
    target.write_text(text.replace("slumped", "zqxwvbn"), encoding="utf-8")  # same length
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    report = reindex(kb_of(starter_kb))
    assert report.updated == [] and not report.changed
    # Not re-read, so not re-indexed: the index still has the old word.
    assert "back/sitting-posture-and-lumbar-pain" in search_ids("slumped")
    assert search_ids("zqxwvbn") == []
    bump_mtime(target)
    report = reindex(kb_of(starter_kb))
    assert report.updated == ["back/sitting-posture-and-lumbar-pain"]
    assert search_ids("zqxwvbn") == ["back/sitting-posture-and-lumbar-pain"]
    assert "back/sitting-posture-and-lumbar-pain" not in search_ids("slumped")


def test_changed_content_is_reindexed(starter_kb):
    run_cli("reindex")
    target = starter_kb / "joints" / "gout-attacks-what-triggers-them.txt"
    target.write_text("Podagra is an old name. " + target.read_text(encoding="utf-8"), encoding="utf-8")
    bump_mtime(target)
    result = run_cli("reindex", "--json")
    assert result.code == 0
    summary = json.loads(result.stdout)
    assert (summary["added"], summary["updated"], summary["removed"]) == (0, 1, 0)
    assert summary["unchanged"] == len(list(starter_kb.rglob("*.txt"))) - 1
    assert search_ids("podagra") == ["joints/gout-attacks-what-triggers-them"]
    assert indexed_ids(starter_kb).count("joints/gout-attacks-what-triggers-them") == 1


def test_added_removed_and_renamed_files(starter_kb):
    run_cli("reindex")
    total = len(list(starter_kb.rglob("*.txt")))
    (starter_kb / "food" / "nettle-soup.txt").write_text(article("Nettle soup is a spring dish."), encoding="utf-8")
    (starter_kb / "skin" / "eczema-caring-for-dry-itchy-skin.txt").unlink()
    (starter_kb / "sleep" / "is-a-lunchtime-nap-good-for-you.txt").rename(starter_kb / "sleep" / "napping.txt")
    result = run_cli("reindex", "--json")
    summary = json.loads(result.stdout)
    assert summary["added"] == 2  # the new file and the renamed one
    assert summary["removed"] == 2  # the deleted file and the old name
    assert summary["unchanged"] == total - 2
    ids = indexed_ids(starter_kb)
    assert "food/nettle-soup" in ids and "sleep/napping" in ids
    assert "skin/eczema-caring-for-dry-itchy-skin" not in ids
    assert "sleep/is-a-lunchtime-nap-good-for-you" not in ids
    assert len(ids) == len(set(ids)) == total
    assert search_ids("nettle") == ["food/nettle-soup"]
    assert "sleep/napping" in search_ids("nap")


def test_reading_commands_notice_added_and_removed_files_without_reindex(starter_kb):
    assert run_cli("search", "lumbar").code == 0
    (starter_kb / "back" / "lumbago-basics.txt").write_text(article("Lumbago is lumbar pain."), encoding="utf-8")
    (starter_kb / "back" / "sitting-posture-and-lumbar-pain.txt").unlink()
    ids = search_ids("lumbar")
    assert "back/lumbago-basics" in ids
    assert "back/sitting-posture-and-lumbar-pain" not in ids


def test_a_hit_whose_file_vanished_is_never_shown(starter_kb):
    with open_index(kb_of(starter_kb)) as ix:
        before = [h.id for h in ix.search("lumbar").hits]
        assert "back/sitting-posture-and-lumbar-pain" in before
        (starter_kb / "back" / "sitting-posture-and-lumbar-pain.txt").unlink()
        after = [h.id for h in ix.search("lumbar").hits]  # same index, file gone
    assert after == [i for i in before if i != "back/sitting-posture-and-lumbar-pain"]


def test_reindex_full_rebuilds(starter_kb):
    run_cli("reindex")
    generation = int(catalog_meta(starter_kb, "generation"))
    result = run_cli("reindex", "--full", "--json")
    assert result.code == 0
    summary = json.loads(result.stdout)
    total = len(list(starter_kb.rglob("*.txt")))
    assert summary["full"] is True and summary["added"] == total
    assert int(catalog_meta(starter_kb, "generation")) > generation
    assert [p.name for p in state_of(starter_kb).glob("whoosh-*")] == [f"whoosh-{catalog_meta(starter_kb, 'generation')}"]
    assert len(indexed_ids(starter_kb)) == total
    human = run_cli("reindex", "--full")
    assert human.stdout.startswith("Rebuilt the index:") and f"{total} added" in human.stdout


# ---------------------------------------------------------------- rebuilds


def test_schema_version_mismatch_rebuilds_with_one_notice(starter_kb):
    run_cli("reindex")
    db = sqlite3.connect(state_of(starter_kb) / CATALOG_NAME)
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.commit()
    db.close()
    first = run_cli("search", "lumbar")
    assert first.code == 0
    assert len(first.notices()) == 1 and "another version" in first.notices()[0]
    assert catalog_meta(starter_kb, "schema_version") == str(SCHEMA_VERSION)
    second = run_cli("search", "lumbar")
    assert second.notices() == [] and second.stdout == first.stdout


def test_deleted_state_folder_is_rebuilt_silently(starter_kb):
    baseline = search_ids("lumbar")
    shutil.rmtree(state_of(starter_kb))
    result = run_cli("search", "lumbar", "--json")
    assert result.code == 0 and result.notices() == []
    assert [h["id"] for h in json.loads(result.stdout)["hits"]] == baseline
    assert (state_of(starter_kb) / CATALOG_NAME).is_file()


def _damage_catalog(path: Path, how: str) -> None:
    data = path.read_bytes()
    noise = random.Random(how).randbytes(len(data))
    page = 4096
    if how == "garbage":
        path.write_bytes(noise)
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "header":
        path.write_bytes(noise[:100] + data[100:])
    elif how == "pages":  # the header survives, the tables do not
        path.write_bytes(data[: 2 * page] + noise[2 * page :])
    elif how == "articles-table":  # the catalog opens and its meta reads fine; the articles do not
        db = sqlite3.connect(path)
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        [root_page] = db.execute("SELECT rootpage FROM sqlite_master WHERE name='articles'").fetchone()
        db.close()
        start = (root_page - 1) * page_size
        path.write_bytes(data[:start] + noise[start : start + page_size] + data[start + page_size :])
    else:  # pragma: no cover
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["garbage", "truncated", "empty", "header", "pages", "articles-table"])
@pytest.mark.parametrize("command", [["search", "lumbar", "--json"], ["search", "lumbar"], ["list", "--json"], ["show", SEED_ID, "--json"]])
def test_corrupt_catalog_is_rebuilt_with_a_notice(starter_kb, how, command):
    baseline = run_cli(*command)
    assert baseline.code == 0
    catalog = state_of(starter_kb) / CATALOG_NAME
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    _damage_catalog(catalog, how)
    result = run_cli(*command)
    assert result.code == 0
    assert result.stdout == baseline.stdout
    assert len(result.notices()) == 1 and "damaged" in result.notices()[0], result.stderr
    assert run_cli(*command).notices() == []


def _shard_dir(root: Path) -> Path:
    generation = catalog_meta(root, "generation")
    return state_of(root) / f"whoosh-{generation}" / "shard-0"


def _damage_shard(shard: Path, how: str) -> None:
    def biggest(pattern: str) -> Path:
        return max(shard.glob(pattern), key=lambda p: p.stat().st_size)

    if how == "truncate-postings":
        target = biggest("*.pst")
        os.truncate(target, target.stat().st_size // 3)
    elif how == "truncate-terms":
        os.truncate(biggest("*.trm"), 100)
    elif how == "delete-toc":
        for toc in shard.glob("_MAIN_*.toc"):
            toc.unlink()
    elif how == "garbage-postings":
        target = biggest("*.pst")
        target.write_bytes(random.Random(1).randbytes(target.stat().st_size))
    elif how == "garbage-stored":
        target = biggest("*_stored.col")
        target.write_bytes(random.Random(2).randbytes(target.stat().st_size))
    elif how == "empty-files":
        for path in shard.iterdir():
            if path.is_file():
                os.truncate(path, 0)
    elif how == "missing-shard":
        shutil.rmtree(shard)
    else:  # pragma: no cover
        raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    ["truncate-postings", "truncate-terms", "delete-toc", "garbage-postings", "garbage-stored", "empty-files", "missing-shard"],
)
def test_corrupt_search_index_is_detected_and_rebuilt(starter_kb, how):
    baseline = search_ids("lumbar")
    assert SEED_ID in baseline
    shard = _shard_dir(starter_kb)
    assert shard.is_dir() and list(shard.glob("_MAIN_*.toc"))
    _damage_shard(shard, how)
    result = run_cli("search", "lumbar", "--json")
    assert result.code == 0
    assert [h["id"] for h in json.loads(result.stdout)["hits"]] == baseline
    assert any("rebuilding" in n for n in result.notices()), result.stderr
    again = run_cli("search", "lumbar", "--json")
    assert again.notices() == [] and again.stdout == result.stdout


def test_a_kb_with_zero_articles(isolated_env):
    (isolated_env.kb / "notes").mkdir()
    searched = run_cli("search", "lumbar")
    assert searched.code == 1 and searched.stdout == ""
    assert "no articles" in searched.stderr
    listed = run_cli("list")
    assert listed.code == 1 and "no articles" in listed.stderr and "healthkb add" in listed.stderr
    reindexed = run_cli("reindex", "--json")
    assert reindexed.code == 0
    summary = json.loads(reindexed.stdout)
    assert (summary["added"], summary["removed"], summary["unchanged"]) == (0, 0, 0)
    stats = run_cli("stats", "--json")
    assert stats.code == 0 and json.loads(stats.stdout)["articles"] == 0


# ---------------------------------------------------------------- links recomputed on change


def test_adding_an_article_resolves_a_missing_link_elsewhere(make_kb, tmp_path):
    root = make_kb({
        "knees/stairs-and-sore-knees.txt": article(
            "Climbing stairs loads the kneecap with several times the body weight.",
            nxt="Knee pain at night",
        ),
    })
    with open_index(kb_of(root)) as ix:
        row = ix.resolve("knees/stairs-and-sore-knees")
        [link] = ix.links(row)
        assert (link.kind, link.status, link.targets) == ("next", "missing", ())
    new = tmp_path / "incoming" / "knee-pain-at-night.txt"
    new.parent.mkdir()
    new.write_text(article("Knee pain that wakes you at night deserves attention.", prev="Stairs and sore knees"), encoding="utf-8")
    result = run_cli("add", str(new))
    assert result.code == 0
    assert "1 link elsewhere that was missing" in result.stdout
    with open_index(kb_of(root), refresh=False) as ix:
        row = ix.resolve("knees/stairs-and-sore-knees")
        [link] = ix.links(row)
        assert (link.status, link.targets) == ("resolved", ("knee-pain-at-night",))
        assert ("knees/stairs-and-sore-knees", "Stairs and sore knees", "next") in ix.backlinks(ix.resolve("knee-pain-at-night"))


def test_add_json_reports_revived_and_per_article_links(make_kb, tmp_path):
    make_kb({
        "a/first-aid-for-burns.txt": article("Cool a burn under running water.", nxt="Treating blisters"),
        "a/sunburn.txt": article("Sunburn is a burn.", teasers=("Blisters form when frict",)),
    })
    run_cli("reindex")
    new = tmp_path / "treating-blisters.txt"
    new.write_text(article("Blisters form when friction separates layers of skin.", prev="First aid for burns",
                           nxt="Nothing by this name"), encoding="utf-8")
    result = run_cli("add", "--json", str(new))
    assert result.code == 0
    payload = json.loads(result.stdout)
    assert payload["schema"] == 1 and payload["added"] == 1
    assert payload["revived"] == 2  # the next link of one article, the teaser of the other
    assert payload["links"] == {"treating-blisters": {"resolved": 1, "total": 2}}


def test_reciprocal_title_is_inferred_incrementally(make_kb):
    root = make_kb({
        "0001_9f2c4e7a1b3d5f60.txt": article(
            "Walking backwards shifts the load on the lower spine. It is an old exercise.", nxt="Knee care"
        ),
    })
    with open_index(kb_of(root)) as ix:
        assert ix.resolve("0001_9f2c4e7a1b3d5f60").title.startswith("Walking backwards shifts")
    (root / "knee-care.txt").write_text(
        article("Knees like strong thighs.", prev="Reverse walking for a healthy back"), encoding="utf-8"
    )
    report = reindex(kb_of(root))
    assert not report.full and report.added == ["knee-care"]
    with open_index(kb_of(root), refresh=False) as ix:
        row = ix.resolve("0001_9f2c4e7a1b3d5f60")
        assert row.title == "Reverse walking for a healthy back"
        assert ix.resolve("Reverse walking for a healthy back").id == row.id
        [link] = ix.links(ix.resolve("knee-care"))
        assert (link.kind, link.status, link.targets) == ("prev", "resolved", (row.id,))
    # The inferred title is searchable as a title.
    assert search_ids("title:reverse") == ["0001_9f2c4e7a1b3d5f60"]


# ---------------------------------------------------------------- one writer at a time


def test_a_second_writer_times_out_naming_the_holder(starter_kb):
    run_cli("reindex")
    started = time.monotonic()
    with WriteLock(state_of(starter_kb)):
        result = run_proc("reindex", extra_env={"HEALTHKB_LOCK_TIMEOUT": "0.5"})
    assert result.code == 3
    assert f"pid {os.getpid()}" in result.stderr
    assert "gave up after 0.5 s" in result.stderr
    assert time.monotonic() - started < 30


def test_readers_never_block_while_the_lock_is_held(starter_kb):
    run_cli("reindex")
    baseline = search_ids("lumbar")
    (starter_kb / "back" / "lumbago-basics.txt").write_text(article("Lumbago is lumbar pain."), encoding="utf-8")
    with WriteLock(state_of(starter_kb)):
        started = time.monotonic()
        result = run_proc("search", "lumbar", "--json", "--limit", "50", extra_env={"HEALTHKB_LOCK_TIMEOUT": "20"})
        elapsed = time.monotonic() - started
    assert result.code == 0
    assert elapsed < 15  # did not wait for the 20 s lock timeout
    # The last complete index answered: the new file is not in it yet.
    assert [h["id"] for h in json.loads(result.stdout)["hits"]] == baseline
    assert "another healthkb is updating the index" in result.stderr
    assert "back/lumbago-basics" in search_ids("lumbar")  # picked up once the lock is free


def test_two_reindexes_at_once_lose_and_duplicate_nothing(starter_kb):
    run_cli("reindex")
    env = {"HEALTHKB_LOCK_TIMEOUT": "60"}
    command = [sys.executable, "-m", "healthkb", "reindex", "--full", "--json"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **env}) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    total = len(list(starter_kb.rglob("*.txt")))
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert json.loads(out)["added"] == total
    ids = indexed_ids(starter_kb)
    assert len(ids) == len(set(ids)) == total


# ---------------------------------------------------------------- the parallel build


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: the build never shards")
def test_search_after_an_incremental_update_of_a_sharded_index(starter_kb, monkeypatch):
    # Shard even this small KB, then update it: each touched shard gains a
    # segment.  Searching must neither fail nor fall back to a rebuild.
    from healthkb.index import update

    monkeypatch.setattr(update, "PARALLEL_MIN_DOCS", 1)
    report = reindex(kb_of(starter_kb))
    assert report.full and int(catalog_meta(starter_kb, "shards")) >= 2
    generation = catalog_meta(starter_kb, "generation")
    for path in sorted(starter_kb.rglob("*.txt"))[:6]:  # several shards get a second segment
        path.write_text(path.read_text(encoding="utf-8") + "\nQuixotic note.\n", encoding="utf-8")
        bump_mtime(path)
    assert len(reindex(kb_of(starter_kb)).updated) == 6
    for query in ("quixotic", "lumbar", "lumbar spine", "title:lumbar"):
        result = run_cli("search", query, "--json", "--explain")
        assert result.code == 0 and result.notices() == [], result.stderr
    assert len(json.loads(run_cli("search", "quixotic", "--json").stdout)["hits"]) == 6
    assert catalog_meta(starter_kb, "generation") == generation  # no rebuild behind our back
    assert run_cli("similar", SEED_ID, "--json").code == 0


@pytest.mark.slow
def test_a_large_kb_goes_through_the_shard_workers(isolated_env):
    from healthkb.article import parse_article
    from healthkb.files import read_file
    from healthkb.index.schema import HealthTokenizer

    from healthkb.index.update import PARALLEL_MIN_DOCS

    count = PARALLEL_MIN_DOCS + 100  # just over the size that starts the shard workers
    root = isolated_env.kb
    shutil.rmtree(root)
    subprocess.run([sys.executable, str(REPO_DIR / "scripts" / "make_corpus.py"), str(count), str(root), "--seed", "7"],
                   check=True, capture_output=True, timeout=120)
    built = run_proc("reindex", "--json", timeout=300)
    assert built.code == 0
    summary = json.loads(built.stdout)
    assert summary["full"] is True and summary["added"] == count and summary["skipped"] == []
    stats = json.loads(run_proc("stats", "--json").stdout)
    assert stats["articles"] == count and stats["shards"] >= 1
    if (os.cpu_count() or 1) > 1:
        assert stats["shards"] >= 2
        assert len(list((state_of(root) / f"whoosh-{catalog_meta(root, 'generation')}").glob("shard-*"))) == stats["shards"]
    ids = indexed_ids(root)
    assert len(ids) == len(set(ids)) == count

    # The number of hits equals the number of articles whose title or body
    # holds the word, computed here straight from the files.
    analyzer = HealthTokenizer()
    with open_index(kb_of(root), refresh=False) as ix:
        titles = dict(ix.catalog.id_titles())
    paths = {p.relative_to(root).with_suffix("").as_posix(): p for p in root.rglob("*.txt")}
    terms = {
        article_id: set(analyzer.terms(titles[article_id] + " " + parse_article(read_file(str(path)).text, article_id).body))
        for article_id, path in paths.items()
    }
    for word in ("lumbar", "insomnia"):
        [term] = analyzer.terms(word)
        expected = {article_id for article_id, found in terms.items() if term in found}
        result = json.loads(run_proc("search", word, "--json", "--limit", "5").stdout)
        assert expected and result["total"] == len(expected), word

    # An incremental update on the sharded index.
    victim, edited = sorted(paths)[:2]
    paths[victim].unlink()
    paths[edited].write_text(paths[edited].read_text(encoding="utf-8").replace(" |", " zyxwvutsr |", 1), encoding="utf-8")
    summary = json.loads(run_proc("reindex", "--json").stdout)
    assert (summary["updated"], summary["removed"], summary["full"]) == (1, 1, False)
    generation = catalog_meta(root, "generation")
    searched = run_proc("search", "zyxwvutsr", "--json")
    assert "rebuilding" not in searched.stderr
    assert [h["id"] for h in json.loads(searched.stdout)["hits"]] == [edited]
    assert catalog_meta(root, "generation") == generation
    ids = indexed_ids(root)
    assert len(ids) == len(set(ids)) == count - 1 and victim not in ids


def test_a_writer_removes_temporary_files_left_by_a_killed_writer(starter_kb):
    assert run_cli("reindex").code == 0
    state = state_of(starter_kb)
    leftover = state / ".resolver-abc123.tmp"
    leftover.write_bytes(b"half a pickle")
    assert run_cli("reindex").code == 0
    assert not leftover.exists()
    assert not (state / "resolver.pickle").exists()  # the resolver's state lives in the catalog


def test_an_update_deletes_the_resolver_pickle_an_earlier_version_left(starter_kb):
    assert run_cli("reindex").code == 0
    state = state_of(starter_kb)
    (state / "resolver.pickle").write_bytes(b"\x80\x05old resolver state")
    assert run_cli("reindex").code == 0  # nothing changed in the KB: still cleaned
    assert not (state / "resolver.pickle").exists()
    assert run_cli("search", "lumbar").code == 0
