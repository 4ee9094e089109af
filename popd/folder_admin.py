"""`popdrop folder list|create|rename|delete|move`: a mailbox's POP4 folders (docs/pop4.md,
"Managing folders"), through the same library calls as the REST API (`popdrop.folder_admin`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from popd.admin import UsageError
from popdrop import folder_admin
from popdrop.faces.admin import FolderAdmin
from popdrop.folders import SEPARATOR, FolderError
from popdrop.model import Address


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    address: Callable[[str], Address],
) -> None:
    folder = commands.add_parser("folder", help="a mailbox's folders (POP4, docs/pop4.md)")
    actions = folder.add_subparsers(dest="action", required=True, metavar="ACTION")
    listed = actions.add_parser("list", help="folders with their messages and octets")
    listed.add_argument("address", type=address)
    create = actions.add_parser("create", help="create a folder (its parent must exist)")
    create.add_argument("address", type=address)
    create.add_argument("name", help="levels separated by /, e.g. lists/python")
    rename = actions.add_parser("rename", help="rename a folder and the folders under it")
    rename.add_argument("address", type=address)
    rename.add_argument("name")
    rename.add_argument("new_name")
    delete = actions.add_parser("delete", help="delete an empty folder without subfolders")
    delete.add_argument("address", type=address)
    delete.add_argument("name")
    move = actions.add_parser(
        "move", help="move messages (by uid) into a folder, or a folder under another (--parent)"
    )
    move.add_argument("address", type=address)
    move.add_argument("target", help="the folder the messages go to, or the folder to move")
    move.add_argument("uids", nargs="*", metavar="UID")
    move.add_argument(
        "--parent", help=f"move the folder TARGET under this one ({SEPARATOR} for the top level)"
    )


def run(store: FolderAdmin, args: argparse.Namespace) -> int:
    address: Address = args.address
    try:
        match args.action:
            case "list":
                for folder in folder_admin.listing(store, address):
                    print(f"{folder.name}\t{folder.messages} messages\t{folder.octets} octets")
            case "create":
                folder_admin.create(store, address, args.name)
                print(f"created folder {args.name} of {address}")
            case "rename":
                folder_admin.rename(store, address, args.name, args.new_name)
                print(f"renamed folder {args.name} of {address} to {args.new_name}")
            case "delete":
                folder_admin.delete(store, address, args.name)
                print(f"deleted folder {args.name} of {address}")
            case "move" if args.parent is not None:
                if args.uids:
                    raise UsageError("give either message uids or --parent, not both")
                folder_admin.move_folder(store, address, args.target, args.parent)
                print(f"moved folder {args.target} of {address} under {args.parent}")
            case "move":
                if not args.uids:
                    raise UsageError("name the messages to move (uids), or --parent")
                moved = folder_admin.move_messages(store, address, args.uids, args.target)
                print(f"moved {len(moved)} messages of {address} to {args.target}")
    except FolderError as error:
        raise UsageError(str(error)) from None
    except folder_admin.NoSuchMessage as error:
        raise UsageError(f"no message with uid {error} in {address}") from None
    return 0
