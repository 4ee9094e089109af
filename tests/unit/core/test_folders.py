"""POP4's folder rules (`popdrop.folders`, docs/pop4.md): names, limits, and what a FolderTree
allows; every interface (a POP4 session, the API, the CLI) changes folders through them."""

from __future__ import annotations

import pytest

from popdrop.folders import (
    MAX_DEPTH,
    MAX_FOLDERS,
    MAX_NAME_OCTETS,
    NEW_PREFIX,
    Folder,
    FolderError,
    FolderListing,
    FolderTree,
    Refusal,
    empty_listing,
    folder_name,
)
from popdrop.model import INBOX_ID, QUARANTINE_ID, FolderId


def _tree(*names: str) -> FolderTree:
    base = empty_listing(3)
    folders = tuple(Folder(FolderId(f"id{i}"), name) for i, name in enumerate(names))
    return FolderTree(FolderListing(base.inbox, base.quarantine, folders, 3))


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("", Refusal.INVALID_NAME),
        ("a b", Refusal.INVALID_NAME),
        ("a\tb", Refusal.INVALID_NAME),
        ("a\x7fb", Refusal.INVALID_NAME),
        ("a//b", Refusal.INVALID_NAME),
        ("/a", Refusal.INVALID_NAME),
        ("a/", Refusal.INVALID_NAME),
        ("é" * (MAX_NAME_OCTETS // 2 + 1), Refusal.NAME_TOO_LONG),
        ("/".join("a" * (MAX_DEPTH + 1)), Refusal.TOO_DEEP),
    ],
)
def test_a_name_is_utf8_without_controls_or_spaces_bounded_in_octets_and_depth(
    text: str, refusal: Refusal
) -> None:
    with pytest.raises(FolderError) as raised:
        folder_name(text)
    assert raised.value.refusal is refusal


def test_a_name_is_kept_in_nfc_and_compares_case_insensitively() -> None:
    assert folder_name("Cafe\u0301") == "Café"
    tree = _tree("News")
    assert tree.find("news") == "id0"
    assert tree.find("inbox") == INBOX_ID
    assert tree.find("QUARANTINE") == QUARANTINE_ID


def test_create_needs_a_free_name_and_an_existing_parent() -> None:
    tree = _tree("lists")
    assert tree.create("lists/python").startswith(NEW_PREFIX)
    for name, refusal in (
        ("LISTS", Refusal.EXISTS),
        ("nope/child", Refusal.NO_PARENT),
        ("INBOX", Refusal.RESERVED),
        ("Quarantine/x", Refusal.RESERVED),
    ):
        with pytest.raises(FolderError) as raised:
            tree.create(name)
        assert raised.value.refusal is refusal


def test_a_mailbox_holds_at_most_max_folders() -> None:
    tree = _tree(*(f"f{i}" for i in range(MAX_FOLDERS)))
    with pytest.raises(FolderError) as raised:
        tree.create("one-more")
    assert raised.value.refusal is Refusal.TOO_MANY


def test_rename_takes_the_subfolders_along_and_never_into_itself() -> None:
    tree = _tree("a", "a/b", "c")
    tree.rename("a", "z")
    assert dict(tree.folders()) == {"id0": "z", "id1": "z/b", "id2": "c"}
    with pytest.raises(FolderError) as raised:
        tree.rename("z", "z/b/inner")
    assert raised.value.refusal is Refusal.INTO_ITSELF


def test_movf_moves_under_a_parent_or_to_the_top_with_a_slash() -> None:
    tree = _tree("a", "b", "b/c")
    tree.move("a", "b")
    assert tree.name(FolderId("id0")) == "b/a"
    tree.move("b/c", "/")
    assert tree.name(FolderId("id2")) == "c"
    with pytest.raises(FolderError) as raised:
        tree.move("c", "INBOX")
    assert raised.value.refusal is Refusal.RESERVED


def test_delete_refuses_system_folders_subfolders_and_folders_holding_messages() -> None:
    tree = _tree("a", "a/b", "full")
    for name, refusal in (
        ("INBOX", Refusal.RESERVED),
        ("Quarantine", Refusal.RESERVED),
        ("a", Refusal.HAS_SUBFOLDERS),
        ("full", Refusal.NOT_EMPTY),
        ("missing", Refusal.NO_SUCH_FOLDER),
    ):
        with pytest.raises(FolderError) as raised:
            tree.delete(name, holds_messages=lambda folder: folder == "id2")
        assert raised.value.refusal is refusal
    tree.delete("a/b", holds_messages=lambda _: False)
    plan = tree.plan()
    assert plan.deleted == (("id1", "a/b"),)
    assert plan.version == 3


def test_a_deleted_name_is_not_reused_before_the_change_is_committed() -> None:
    tree = _tree("old")
    tree.delete("old", holds_messages=lambda _: False)
    with pytest.raises(FolderError) as raised:
        tree.create("old")
    assert raised.value.refusal is Refusal.NAME_PENDING


def test_a_folder_made_and_deleted_in_one_change_leaves_no_trace() -> None:
    tree = _tree()
    tree.create("tmp")
    tree.delete("tmp", holds_messages=lambda _: False)
    assert not tree.changed
    assert tree.plan().folders == ()
