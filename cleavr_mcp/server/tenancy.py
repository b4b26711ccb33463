"""Who is calling, set once for every request the server handles, and the guard on tool arguments.

`TenancyMiddleware` (installed on the low-level server by `build_server`) works out the principal of each inbound
request — stdio and unauthenticated loopback HTTP: `LOCAL`; authenticated HTTP: the verified token mapped by the
principals file (`server.principals`) plus the users granted to it since — and runs the whole request (tools,
tools/list, resources, prompts, completions, subscriptions, initialize) inside `acting_as(principal)`. Code below
reads `current_principal()`; `principal_for_request(ctx)` is the same answer for a handler holding a context.
"""

from __future__ import annotations

from typing import Any

from ..domain.tenancy import LOCAL, Principal, acting_as, current_principal
from .principals import PrincipalDirectory


def access_token_of(ctx: Any) -> Any:
    """The verified AccessToken of this request (None: stdio, or HTTP without auth)."""
    from mcp.server.auth.middleware.auth_context import get_access_token
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser

    request = getattr(ctx, "request", None)
    if request is None and hasattr(ctx, "request_context"):  # an mcpserver Context
        try:
            request = getattr(ctx.request_context, "request", None)
        except (AttributeError, LookupError, ValueError):
            request = None
    scope = getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    if isinstance(user, AuthenticatedUser):
        return user.access_token
    return get_access_token()


async def resolve_principal(directory: PrincipalDirectory, access_token: Any, store: Any = None) -> Principal:
    """The principal of a verified token, with the users it created (create_users) granted from the store."""
    principal = directory.principal_for(access_token)
    if principal.create_users and not principal.every_creditor and store is not None:
        principal = principal.with_users(await store.granted_users(principal.name))
    return principal


class TenancyMiddleware:
    """Low-level server middleware: every inbound request runs as its principal."""

    def __init__(self, directory: PrincipalDirectory) -> None:
        self.directory = directory

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        token = access_token_of(ctx)
        if token is None:
            with acting_as(LOCAL):
                return await call_next(ctx)
        store = getattr(getattr(ctx, "lifespan_context", None), "store", None)
        principal = await resolve_principal(self.directory, token, store)
        with acting_as(principal):
            return await call_next(ctx)


def principal_for_request(ctx: Any = None) -> Principal:
    """The principal of the request being handled (set by TenancyMiddleware); `ctx` is accepted for handlers that
    have one, and ignored: the middleware already ran for this request."""
    return current_principal()
