"""Which segments an update's commit merges (index/codec.py merge_policy):
small segments by tiers of size, large ones never, and any segment with too
many deleted documents rewritten; after many one-file updates the index
holds few segments and answers as a fresh build does."""

from __future__ import annotations

import glob
import json
import os
import random

import pytest

from clihelp import article, run_cli
from healthkb.index import codec


class Segment:
    def __init__(self, docs: int, deleted: int = 0, name: str = "") -> None:
        self.docs, self.deleted, self.name = docs, deleted, name or f"{docs}d{deleted}"

    def doc_count_all(self) -> int:
        return self.docs

    def deleted_count(self) -> int:
        return self.deleted

    def __repr__(self) -> str:
        return self.name


@pytest.fixture
def absorbed(monkeypatch) -> list[Segment]:
    copied: list[Segment] = []
    monkeypatch.setattr(codec, "_absorb", lambda writer, segment: copied.append(segment))
    return copied


def test_tiers_by_size():
    assert [codec._tier(n) for n in (0, 1, 3, 4, 15, 16, 63, 64, 255)] == [0, 0, 0, 1, 1, 2, 2, 3, 3]


def test_three_tiny_segments_wait_and_the_fourth_merges_them(absorbed):
    big = Segment(13_000)
    tiny = [Segment(1, name=f"t{k}") for k in range(4)]
    assert codec.merge_policy(None, [big, *tiny[:3]]) == [big, *tiny[:3]] and absorbed == []
    assert codec.merge_policy(None, [big, *tiny]) == [big] and absorbed == tiny


def test_only_the_smallest_full_tier_merges(absorbed):
    # Tier 1 (4-15 documents) is full too, but the tiny ones merge first:
    # one commit never copies more than one tier.
    tier0 = [Segment(1, name=f"a{k}") for k in range(4)]
    tier1 = [Segment(5, name=f"b{k}") for k in range(4)]
    kept = codec.merge_policy(None, [*tier1, *tier0])
    assert absorbed == tier0 and kept == tier1


def test_a_growing_small_segment_is_not_copied_again_with_each_merge(absorbed):
    # Whoosh's MERGE_SMALL merged [1, 1, 1, 1, 29] (~12,000 postings at 100k
    # articles); by tiers the 29-document segment waits for three of its size.
    middle = Segment(29)
    tiny = [Segment(1, name=f"t{k}") for k in range(4)]
    assert codec.merge_policy(None, [middle, *tiny]) == [middle] and absorbed == tiny


def test_large_segments_never_merge_but_too_many_deletions_rewrite_any(absorbed):
    large = [Segment(codec.LARGE_SEGMENT_DOCS + k, name=f"L{k}") for k in range(6)]
    assert codec.merge_policy(None, large) == large and absorbed == []
    holey = Segment(10_000, deleted=2_001)
    assert codec.merge_policy(None, [holey, *large]) == large and absorbed == [holey]


def _ids(query: str) -> list[str]:
    result = run_cli("search", query, "--json", "--limit", "100")
    assert result.code in (0, 1), result.stderr
    return sorted(hit["id"] for hit in json.loads(result.stdout)["hits"])


def test_many_one_file_updates_keep_few_segments_and_the_same_answers(make_kb):
    rng = random.Random(3)
    words = "walking knee lumbar sleep fever cough diet heart blood sugar nerve skin".split()
    root = make_kb({f"f{k % 3}/a{k:02}.txt": article(" ".join(rng.choice(words) for _ in range(30)) + ".")
                    for k in range(40)})
    assert run_cli("reindex").code == 0
    for step in range(40):  # one file per update, as an editor saves them
        path = root / f"f{step % 3}" / f"a{rng.randrange(40):02}.txt"
        path.write_text(article(" ".join(rng.choice(words) for _ in range(30)) + f" step{step}."))
        os.utime(path, ns=(step * 10**9 + 10**18, step * 10**9 + 10**18))
        assert run_cli("reindex").code == 0
    segments = [len(glob.glob(f"{shard}/*.trm")) for shard in glob.glob(f"{root}/.healthkb/whoosh-*/shard-*")]
    # Tiers 0-2 hold at most three segments each, beside the build's own.
    assert segments and max(segments) <= 1 + 3 * 3, segments
    updated = {word: _ids(word) for word in words}
    assert run_cli("reindex", "--full").code == 0
    assert {word: _ids(word) for word in words} == updated
