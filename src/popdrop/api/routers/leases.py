"""The maildrop lease (admin only): who holds a mailbox now (a POP3 session, or an API deletion),
and breaking a stale hold (a client that vanished while its daemon kept renewing, or a holder an
operator must stop). A broken holder can no longer commit (its fencing token is stale)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from popdrop.api import problems
from popdrop.api.deps import AdminMailbox, AdminStoreDep
from popdrop.api.schemas import LeaseOut

router = APIRouter(
    prefix="/mailboxes/{address}/lease",
    tags=["lease"],
    responses=problems.responses(problems.NOT_FOUND, problems.FORBIDDEN),
)


@router.get("")
def get_lease(mailbox: AdminMailbox, store: AdminStoreDep) -> LeaseOut:
    return LeaseOut.of(store.lease_state(mailbox))


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def break_lease(mailbox: AdminMailbox, store: AdminStoreDep) -> Response:
    """End the current hold, if any (204 either way: afterwards nobody holds it)."""
    store.break_lease(mailbox)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
