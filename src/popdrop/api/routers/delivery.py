"""Where mail goes (admin only): each mailbox's verdict policy and quotas, and the aliases and
catch-alls (`@domain`) that route addresses to mailboxes. Each calls `popdrop.admin`, as the CLI
does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from popdrop.admin import delivery
from popdrop.api import problems
from popdrop.api.deps import AdminMailbox, AdminStoreDep, require_admin
from popdrop.api.filters import first
from popdrop.api.params import ROUTE_PATTERN, PageLimit, RouteAddress, address_cursor
from popdrop.api.schemas import AliasIn, AliasOut, AliasPage, PolicyIn, PolicyOut
from popdrop.model import InvalidAddress, normalize_address, normalize_route_address

policies = APIRouter(
    prefix="/mailboxes/{address}/policy",
    tags=["delivery"],
    responses=problems.responses(problems.NOT_FOUND, problems.FORBIDDEN),
)


@policies.get("")
def get_policy(mailbox: AdminMailbox, store: AdminStoreDep) -> PolicyOut:
    """What each failed SES verdict does, and the quotas (0: unlimited)."""
    return PolicyOut.of(delivery.policy(store, mailbox))


@policies.put("")
def put_policy(mailbox: AdminMailbox, body: PolicyIn, store: AdminStoreDep) -> PolicyOut:
    """Change the fields given (a field left out keeps its value); the policy as it now is."""
    changes = {name: value for name, value in body.model_dump().items() if value is not None}
    return PolicyOut.of(delivery.update_policy(store, mailbox, changes))


aliases = APIRouter(
    prefix="/aliases",
    tags=["delivery"],
    dependencies=[Depends(require_admin)],
    responses=problems.responses(problems.FORBIDDEN),
)


@aliases.get("", responses=problems.responses(problems.INVALID_CURSOR))
def list_aliases(
    store: AdminStoreDep,
    limit: PageLimit = 50,
    starting_after: Annotated[
        str | None, Query(pattern=ROUTE_PATTERN, max_length=320, description="the last seen")
    ] = None,
) -> AliasPage:
    """Aliases and catch-alls by address."""
    after = address_cursor(starting_after, normalize_route_address)
    data, has_more = first(store.routes_in_order(after=after), limit)
    return AliasPage(data=[AliasOut.of(route) for route in data], has_more=has_more)


@aliases.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problems.responses(problems.UNKNOWN_TARGET),
)
def set_alias(body: AliasIn, store: AdminStoreDep) -> AliasOut:
    """Create or replace an alias (`user@domain`) or a domain's catch-all (`@domain`); every
    target must be an existing mailbox."""
    try:
        address = normalize_route_address(body.address)
        targets = [normalize_address(target) for target in body.targets]
    except InvalidAddress as error:
        raise problems.ProblemError(problems.INVALID_REQUEST, str(error)) from None
    return AliasOut.of(delivery.set_route(store, address, targets))


@aliases.delete(
    "/{alias}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems.responses(problems.NOT_FOUND),
)
def remove_alias(alias: RouteAddress, store: AdminStoreDep) -> Response:
    delivery.remove_route(store, alias)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
