"""Who the presented credentials prove: the console asks it to sign in."""

from __future__ import annotations

from fastapi import APIRouter

from popdrop.api.deps import CallerDep
from popdrop.api.schemas import Me

router = APIRouter(tags=["session"])


@router.get("/me")
def me(caller: CallerDep) -> Me:
    if caller.mailbox is None:
        return Me(role="admin")
    return Me(role="mailbox", address=caller.mailbox, app_password=caller.by_app_password)
