"""The English word list's cache file (query/wordlist.py): built once into the
user cache, checked on every open, rebuilt when missing, stale or damaged."""

from __future__ import annotations

import sqlite3

from healthkb.query.wordlist import FILE_NAME, EnglishWords, default_path


def lookup(path, *words):
    english = EnglishWords(path)
    try:
        return [word in english for word in words]
    finally:
        english.close()


def test_the_list_is_built_into_the_user_cache_on_first_use():
    path = default_path()
    assert path.name == FILE_NAME and not path.exists()
    assert lookup(None, "needles", "cafe", "tabkets") == [True, True, False]
    assert path.is_file()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM words").fetchone()[0] > 100_000


def test_a_missing_file_is_rebuilt(tmp_path):
    path = tmp_path / FILE_NAME
    assert lookup(path, "pins") == [True]
    path.unlink()
    assert lookup(path, "pins") == [True] and path.is_file()


def test_a_damaged_file_is_rebuilt(tmp_path):
    path = tmp_path / FILE_NAME
    lookup(path, "pins")
    size = path.stat().st_size
    path.write_bytes(b"this is not a database at all" * 100)
    assert lookup(path, "pins", "xqzv") == [True, False]
    assert path.stat().st_size == size


def test_a_truncated_file_is_rebuilt(tmp_path):
    path = tmp_path / FILE_NAME
    lookup(path, "pins")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    assert lookup(path, "needles") == [True]
    assert path.read_bytes() == whole


def test_a_stale_or_emptied_file_is_rebuilt(tmp_path):
    path = tmp_path / FILE_NAME
    lookup(path, "pins")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 'an older list' WHERE key = 'source'")
    assert lookup(path, "needles") == [True]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'source'").fetchone()[0] != "an older list"
        db.execute("DELETE FROM words")
    assert lookup(path, "needles") == [True]


def test_an_unwritable_cache_folder_still_answers(tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    assert lookup(blocker / FILE_NAME, "needles", "tabkets") == [True, False]


def test_no_temporary_files_are_left_behind(tmp_path):
    folder = tmp_path / "cache"
    lookup(folder / FILE_NAME, "pins")
    assert [p.name for p in folder.iterdir()] == [FILE_NAME]
