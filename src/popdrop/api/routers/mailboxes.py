"""Mailboxes and their credentials: the list and creation (admin), one mailbox (its owner too),
removal (admin), the password and the app passwords (the owner with the mailbox's password).

Routes are plain `def`: the store is synchronous boto3, so FastAPI runs each in its thread pool
and no storage call blocks the event loop. Each calls `popdrop.admin`, as the CLI does.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response, status

from popdrop.admin import mailboxes as admin
from popdrop.api import problems
from popdrop.api.deps import (
    AdminMailbox,
    AdminStoreDep,
    OwnMailbox,
    OwnMailboxByPassword,
    StoreDep,
    require_admin,
)
from popdrop.api.filters import first
from popdrop.api.params import ADDRESS_PATTERN, AppPasswordName, PageLimit, address_cursor
from popdrop.api.schemas import (
    AppPasswordCreated,
    AppPasswordIn,
    AppPasswordOut,
    AppPasswordPage,
    GeneratedPassword,
    MailboxCreated,
    MailboxIn,
    MailboxOut,
    MailboxPage,
    PasswordIn,
)
from popdrop.model import InvalidAddress, normalize_address

router = APIRouter(prefix="/mailboxes", tags=["mailboxes"])

# A route about one mailbox: 404 for one the caller may not see, 403 for what its owner may not do.
_ONE = problems.responses(problems.NOT_FOUND, problems.FORBIDDEN)


@router.get("", dependencies=[Depends(require_admin)])
def list_mailboxes(
    store: StoreDep,
    limit: PageLimit = 50,
    starting_after: Annotated[
        str | None,
        Query(pattern=ADDRESS_PATTERN, max_length=320, description="the last address seen"),
    ] = None,
) -> MailboxPage:
    """Every mailbox, by address (admin only)."""
    after = address_cursor(starting_after, normalize_address)
    data, has_more = first(store.mailboxes_in_order(after=after), limit)
    return MailboxPage(data=[MailboxOut.of(mailbox) for mailbox in data], has_more=has_more)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_admin)],
    responses=problems.responses(
        problems.MAILBOX_EXISTS, problems.INVALID_PASSWORD, problems.FORBIDDEN
    ),
)
def create_mailbox(body: MailboxIn, store: AdminStoreDep, response: Response) -> MailboxCreated:
    """Create a mailbox with the given password, or a generated one shown in this reply only."""
    try:
        address = normalize_address(body.address)
    except InvalidAddress as error:
        raise problems.ProblemError(problems.INVALID_REQUEST, str(error)) from None
    generated = body.password is None
    password = admin.generate_password() if body.password is None else body.password
    mailbox = admin.create_mailbox(store, address, password)
    response.headers["Location"] = f"/v1/mailboxes/{quote(address, safe='@')}"
    return MailboxCreated(
        **MailboxOut.of(mailbox).model_dump(), password=password if generated else None
    )


@router.get("/{address}", responses=_ONE)
def get_mailbox(mailbox: OwnMailbox, store: StoreDep) -> MailboxOut:
    found = store.get_mailbox(mailbox)
    if found is None:
        raise problems.not_found()
    return MailboxOut.of(found)


@router.delete("/{address}", status_code=status.HTTP_204_NO_CONTENT, responses=_ONE)
def remove_mailbox(mailbox: AdminMailbox, store: AdminStoreDep) -> Response:
    """Remove the mailbox, its messages and its quarantine (admin only)."""
    store.remove_mailbox(mailbox)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{address}/password",
    response_model=None,
    responses={
        **_ONE,
        **problems.responses(problems.INVALID_PASSWORD),
        status.HTTP_200_OK: {"model": GeneratedPassword, "description": "a generated password"},
        status.HTTP_204_NO_CONTENT: {"description": "the given password is set"},
    },
)
def set_password(mailbox: OwnMailboxByPassword, body: PasswordIn, store: AdminStoreDep) -> Response:
    """Set the given password (204), or a generated one, shown in this reply only (200)."""
    if body.password is not None:
        admin.set_password(store, mailbox, body.password)
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    password = admin.generate_password()
    admin.set_password(store, mailbox, password)
    return Response(
        GeneratedPassword(password=password).model_dump_json(), media_type="application/json"
    )


@router.get("/{address}/app-passwords", responses=_ONE)
def list_app_passwords(mailbox: OwnMailboxByPassword, store: AdminStoreDep) -> AppPasswordPage:
    """The mailbox's app passwords (a mailbox holds a bounded number: one page)."""
    entries = admin.list_app_passwords(store, mailbox)
    return AppPasswordPage(data=[AppPasswordOut.of(entry) for entry in entries], has_more=False)


@router.post(
    "/{address}/app-passwords",
    status_code=status.HTTP_201_CREATED,
    responses={**_ONE, **problems.responses(problems.APP_PASSWORD_CONFLICT)},
)
def add_app_password(
    mailbox: OwnMailboxByPassword, body: AppPasswordIn, store: AdminStoreDep
) -> AppPasswordCreated:
    """Generate a named app password; the reply is the only place it is ever shown."""
    entry, password = admin.add_app_password(store, mailbox, body.name)
    return AppPasswordCreated(**AppPasswordOut.of(entry).model_dump(), password=password)


@router.delete(
    "/{address}/app-passwords/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=_ONE
)
def revoke_app_password(
    mailbox: OwnMailboxByPassword, name: AppPasswordName, store: AdminStoreDep
) -> Response:
    store.revoke_app_password(mailbox, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
