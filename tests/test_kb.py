"""Tests for healthkb.kb: which KB a command uses (SPEC §3), the user KB made
from the starter articles, ``init``, and where the index state lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from healthkb import kb as kbmod
from healthkb.errors import EXIT_UNAVAILABLE, HealthKBError, KBUnavailableError
from healthkb.kb import (
    ENV_KB,
    KB,
    copy_into_kb,
    ensure_user_kb,
    find_marked_kb,
    init_kb,
    install_starter_articles,
    resolve_kb,
    starter_articles,
    state_dir,
    user_cache_dir,
    user_data_dir,
)

REPO_STARTER = Path(__file__).resolve().parents[1] / "kb"


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*.txt")
        if not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


# ---------------------------------------------------------------- isolation


def test_platform_folders_resolve_inside_the_test_folder(tmp_path, isolated_env):
    assert user_data_dir().is_relative_to(tmp_path)
    assert user_cache_dir().is_relative_to(tmp_path)
    assert user_data_dir().is_relative_to(isolated_env.data)
    assert user_cache_dir().is_relative_to(isolated_env.cache)
    assert Path.home() == isolated_env.home
    assert os.environ[ENV_KB] == str(isolated_env.kb)
    assert "HEALTHKB_DEBUG" not in os.environ and "NO_COLOR" not in os.environ


# ---------------------------------------------------------------- resolution order


@pytest.fixture
def three_kbs(tmp_path, make_kb):
    option = make_kb({"o.txt": "o"}, tmp_path / "option-kb")
    env = make_kb({"e.txt": "e"}, tmp_path / "env-kb")
    marked = make_kb({"m.txt": "m"}, tmp_path / "marked-kb")
    init_kb(marked)
    cwd = marked / "deep" / "er"
    cwd.mkdir(parents=True)
    return option, env, marked, cwd


def test_option_wins_over_everything(three_kbs, monkeypatch):
    option, env, _marked, cwd = three_kbs
    monkeypatch.setenv(ENV_KB, str(env))
    resolved = resolve_kb(str(option), cwd=cwd)
    assert (resolved.root, resolved.origin) == (option.resolve(), "option")


def test_env_wins_over_a_discovered_kb(three_kbs, monkeypatch):
    _option, env, _marked, cwd = three_kbs
    monkeypatch.setenv(ENV_KB, str(env))
    resolved = resolve_kb(None, cwd=cwd)
    assert (resolved.root, resolved.origin) == (env.resolve(), "env")


def test_nearest_marked_folder_upward_is_discovered(three_kbs, monkeypatch):
    _option, _env, marked, cwd = three_kbs
    monkeypatch.delenv(ENV_KB)
    resolved = resolve_kb(None, cwd=cwd)
    assert (resolved.root, resolved.origin) == (marked.resolve(), "discovered")
    # A KB nested inside another is the nearer one.
    inner = marked / "deep"
    init_kb(inner)
    assert resolve_kb(None, cwd=cwd).root == inner.resolve()


def test_a_state_file_that_is_not_a_folder_does_not_mark_a_kb(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KB)
    folder = tmp_path / "notkb"
    folder.mkdir()
    (folder / ".healthkb").write_text("not a folder")
    assert find_marked_kb(folder) != folder
    assert resolve_kb(None, cwd=folder).origin == "user"


def test_user_kb_is_the_last_resort(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KB)
    nowhere = tmp_path / "plain" / "folder"
    nowhere.mkdir(parents=True)
    resolved = resolve_kb(None, cwd=nowhere)
    assert resolved.origin == "user"
    assert resolved.root == user_data_dir()


def test_empty_env_value_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_KB, "")
    nowhere = tmp_path / "plain"
    nowhere.mkdir()
    assert resolve_kb(None, cwd=nowhere).origin == "user"


def test_option_expands_the_home_folder(isolated_env):
    (isolated_env.home / "notes").mkdir()
    assert resolve_kb("~/notes").root == (isolated_env.home / "notes").resolve()


# ---------------------------------------------------------------- unavailable KBs


@pytest.mark.parametrize("how", ["option", "env"])
@pytest.mark.parametrize("kind", ["missing", "file"])
def test_missing_folder_or_file_is_unavailable(tmp_path, monkeypatch, how, kind):
    target = tmp_path / "target"
    if kind == "file":
        target.write_text("I am a file")
    if how == "env":
        monkeypatch.setenv(ENV_KB, str(target))
    with pytest.raises(KBUnavailableError) as caught:
        resolve_kb(str(target) if how == "option" else None, cwd=tmp_path)
    error = caught.value
    assert isinstance(error, HealthKBError)
    assert error.exit_code == EXIT_UNAVAILABLE == 3
    assert str(target) in error.message
    assert "\n" not in error.message
    assert ("does not exist" if kind == "missing" else "not a folder") in error.message
    assert not target.is_dir()  # nothing was created in its place


def test_init_on_a_file_is_unavailable(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(KBUnavailableError) as caught:
        init_kb(target)
    assert caught.value.exit_code == 3
    assert target.read_text() == "x"


# ---------------------------------------------------------------- the user KB and the starter articles


def test_starter_articles_are_shipped_and_match_the_repo_kb_folder():
    shipped = dict(starter_articles())
    assert shipped, "the package ships no starter articles"
    assert all(rel.endswith(".txt") for rel in shipped)
    assert not any(part.startswith(("_", ".")) for rel in shipped for part in rel.split("/")[:-1])
    if REPO_STARTER.is_dir():  # running from a checkout: every kb/*.txt is in the package
        assert shipped == files_under(REPO_STARTER)


def test_user_kb_is_created_from_every_starter_article(isolated_env, monkeypatch):
    monkeypatch.delenv(ENV_KB)
    root = user_data_dir()
    assert not root.exists()
    created = ensure_user_kb()
    shipped = dict(starter_articles())
    assert (created.root, created.origin) == (root, "user")
    assert created.created_with == len(shipped)
    assert files_under(root) == shipped
    assert created.marker_dir.is_dir()
    assert not [p for p in root.rglob(".starter-*")]  # no temporary files left behind
    again = ensure_user_kb()
    assert (again.root, again.origin, again.created_with) == (root, "user", None)


def test_starter_install_never_overwrites(tmp_path):
    shipped = starter_articles()
    first_rel = shipped[0][0]
    root = tmp_path / "mine"
    (root / first_rel).parent.mkdir(parents=True)
    (root / first_rel).write_text("my own edits")
    copied = install_starter_articles(root)
    assert copied == len(shipped) - 1
    assert (root / first_rel).read_text() == "my own edits"
    assert install_starter_articles(root) == 0


def test_deleting_the_user_kb_cache_does_not_bring_back_deleted_articles(monkeypatch):
    monkeypatch.delenv(ENV_KB)
    created = ensure_user_kb()
    removed = sorted(created.root.rglob("*.txt"))[0]
    removed.unlink()
    for path in sorted(created.marker_dir.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    created.marker_dir.rmdir()
    again = ensure_user_kb()
    assert again.created_with is None
    assert not removed.exists()
    assert again.marker_dir.is_dir()


def test_user_kb_that_cannot_be_created_is_unavailable(isolated_env, monkeypatch):
    monkeypatch.delenv(ENV_KB)
    # Where the user data folder should go there is a file: a real OSError, even as root.
    blocker = isolated_env.data
    blocker.rmdir()
    blocker.write_text("not a folder")
    with pytest.raises(KBUnavailableError) as caught:
        ensure_user_kb()
    assert caught.value.exit_code == 3


# ---------------------------------------------------------------- init


def test_init_is_idempotent_and_leaves_articles_alone(make_kb, snapshot):
    root = make_kb({"a.txt": "Body. |", "sub/b.txt": "More. |"})
    before = snapshot(root)
    first = init_kb(root)
    second = init_kb(root)
    assert (first.root, first.already) == (root.resolve(), False)
    assert (second.root, second.already) == (root.resolve(), True)
    assert (root / ".healthkb").is_dir()
    assert snapshot(root) == before


def test_init_creates_a_missing_folder_that_is_then_discovered(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KB)
    result = init_kb(tmp_path / "new" / "kb")
    assert result.root == (tmp_path / "new" / "kb").resolve()
    assert (result.root / ".healthkb").is_dir()
    assert not result.already
    (result.root / "sub").mkdir()
    discovered = resolve_kb(None, cwd=result.root / "sub")
    assert (discovered.root, discovered.origin) == (result.root, "discovered")


# ---------------------------------------------------------------- where the index lives


def test_state_dir_is_inside_a_writable_kb(make_kb):
    root = make_kb({"a.txt": "x"})
    kb = KB(root.resolve(), "env")
    assert state_dir(kb) == (root.resolve() / ".healthkb", False)
    init_kb(root)
    assert state_dir(kb) == (root.resolve() / ".healthkb", False)
    assert not list(root.rglob(".probe-*"))  # the write probe cleans up


def test_state_dir_falls_back_when_the_state_path_is_unusable(make_kb, isolated_env):
    # A real case that needs no privileges: .healthkb exists but is a file.
    root = make_kb({"a.txt": "x", ".healthkb": "a file, not a folder"})
    path, fallback = state_dir(KB(root.resolve(), "env"))
    assert fallback is True
    assert path.is_relative_to(isolated_env.cache)


def test_state_dir_falls_back_to_the_cache_for_a_read_only_kb(make_kb, isolated_env, monkeypatch):
    # Tests run as root here, where chmod does not stop writes, so the KB is
    # made "read-only" by telling the probe so; the real probe is tested below.
    one = make_kb({"a.txt": "x"}, isolated_env.kb / "one")
    two = make_kb({"a.txt": "x"}, isolated_env.kb / "two")
    monkeypatch.setattr(kbmod, "_writable_dir", lambda path: False)
    path_one, fallback = state_dir(KB(one.resolve(), "env"))
    path_two, _ = state_dir(KB(two.resolve(), "env"))
    assert fallback is True
    assert path_one.is_relative_to(isolated_env.cache)
    assert path_one != path_two  # one cache folder per KB
    assert state_dir(KB(one.resolve(), "env"))[0] == path_one  # and stable
    assert not (one / ".healthkb").exists()


def test_state_dir_with_a_chmod_read_only_kb(make_kb):
    # With real permissions: a non-root user gets the fallback; root can still
    # write (the probe really creates a file), so root keeps the KB folder.
    root = make_kb({"a.txt": "x"})
    root.chmod(0o555)
    try:
        path, fallback = state_dir(KB(root.resolve(), "env"))
        can_write = os.geteuid() == 0
        assert fallback is (not can_write)
        assert (path == root.resolve() / ".healthkb") is can_write
    finally:
        root.chmod(0o755)


def test_writable_probe(tmp_path):
    assert kbmod._writable_dir(tmp_path) is True
    assert kbmod._writable_dir(tmp_path / "missing") is False
    (tmp_path / "file").write_text("x")
    assert kbmod._writable_dir(tmp_path / "file") is False
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["env", "kb", "file"])


# ---------------------------------------------------------------- copying in


def test_copy_into_kb_is_complete_and_leaves_no_temporary_file(tmp_path, make_kb):
    source = tmp_path / "incoming.txt"
    source.write_bytes(b"New article. |\r\n<<: Prev")
    root = make_kb({})
    target = root / "new" / "folder" / "incoming.txt"
    copy_into_kb(source, target)
    assert target.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["incoming.txt"]


def test_copied_and_starter_files_get_the_ordinary_file_mode(tmp_path):
    # A temporary file is private (0600); the article must not stay that way.
    old_mask = os.umask(0o027)
    try:
        source = tmp_path / "incoming.txt"
        source.write_text("New article. |")
        source.chmod(0o600)
        target = tmp_path / "kb" / "incoming.txt"
        copy_into_kb(source, target)
        install_starter_articles(tmp_path / "starter")
        starter_file = next((tmp_path / "starter").rglob("*.txt"))
    finally:
        os.umask(old_mask)
    assert target.stat().st_mode & 0o777 == 0o640
    assert starter_file.stat().st_mode & 0o777 == 0o640
