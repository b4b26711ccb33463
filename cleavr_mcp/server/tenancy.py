"""Who is calling, set once for every request the server handles, and the guard on tool arguments.

`TenancyMiddleware` (installed on the low-level server by `build_server`) works out the principal of each inbound
request — stdio and unauthenticated loopback HTTP: `LOCAL`; authenticated HTTP: the verified token mapped by the
principals file (`server.principals`) plus the users granted to it since — and runs the whole request (tools,
tools/list, resources, prompts, completions, subscriptions, initialize) inside `acting_as(principal)`. Code below
reads `current_principal()`; `principal_for_request(ctx)` is the same answer for a handler holding a context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain.tenancy import Principal, acting_as, current_principal
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


async def principal_now(directory: PrincipalDirectory, principal: Principal, store: Any = None) -> Principal:
    """A principal resolved earlier (an open subscription's), as the principals file says now: removed → no
    creditor; else its entry's creditors plus those granted to it. Other principals are as their token said."""
    if principal.source != "principals-file" or directory.path is None:
        return principal
    from .principals import NOBODY

    directory.refresh()
    entry = directory.file.by_name().get(principal.name)
    if entry is None:
        return NOBODY
    current = entry.principal
    if current.create_users and not current.every_creditor and store is not None:
        current = current.with_users(await store.granted_users(current.name))
    return current


class TenancyMiddleware:
    """Low-level server middleware: every inbound request runs as its principal."""

    def __init__(self, directory: PrincipalDirectory) -> None:
        self.directory = directory

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        token = access_token_of(ctx)
        if token is None:  # stdio / loopback without auth: the default LOCAL (or what an embedding test set)
            return await call_next(ctx)
        store = getattr(getattr(ctx, "lifespan_context", None), "store", None)
        principal = await resolve_principal(self.directory, token, store)
        with acting_as(principal):
            return await call_next(ctx)


def principal_for_request(ctx: Any = None) -> Principal:
    """The principal of the request being handled (set by TenancyMiddleware); `ctx` is accepted for handlers that
    have one, and ignored: the middleware already ran for this request."""
    return current_principal()


# --- the argument guard ---------------------------------------------------------------------------------------
# Which argument names name whose data. A creditor directly; a receivable, an event or an extraction through its
# owner. Looked for at every depth (batches, nested rows, the receivable inside submit_receivable).
CREDITOR_KEYS = {"user_id": "user", "user_ids": "user"}
OWNED_KEYS = {"receivable_id": "receivable", "receivable_ids": "receivable", "event_id": "event", "event_ids": "event",
              "extraction_id": "extraction"}
MAX_WALK_NODES = 10_000  # argument depth and size are bounded before this; a guard that stops early refuses
OWNER_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class Named:
    kind: str  # user | receivable | event | extraction
    value: str
    path: str  # where in the arguments, e.g. rows[2].receivable_id


def named_ids(arguments: Any) -> list[Named] | None:
    """Every id in the arguments that names a creditor or something a creditor owns (None: too big to walk)."""
    found: list[Named] = []
    # Paths as (parent, key) links, spelt out only for the ids found: the walk stays cheap on big batches.
    stack: list[tuple[Any, Any]] = [(None, arguments)]
    seen = 0
    while stack:
        path, value = stack.pop()
        seen += 1
        if seen > MAX_WALK_NODES:
            return None
        if isinstance(value, dict):
            for key, item in value.items():
                here = (path, key)
                kind = _KINDS.get(key)
                if kind is not None:
                    if isinstance(item, str):
                        found.append(Named(kind, item, _spell(here)))
                    elif isinstance(item, list):
                        found.extend(Named(kind, v, _spell((here, i))) for i, v in enumerate(item)
                                     if isinstance(v, str))
                if isinstance(item, (dict, list)):
                    stack.append((here, item))
        elif isinstance(value, list):
            stack.extend(((path, i), item) for i, item in enumerate(value) if isinstance(item, (dict, list)))
    return found


_KINDS = {**CREDITOR_KEYS, **OWNED_KEYS}


def _spell(link: Any) -> str:
    parts: list[Any] = []
    while link is not None:
        link, key = link
        parts.append(key)
    out = ""
    for part in reversed(parts):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def not_found(named: Named) -> Exception:
    """The one answer to an id the caller may not act for AND to an id that does not exist: the same words."""
    from ..cleavr.errors import CleavrNotFound
    from ..domain.scope import no_such_receivable

    if named.kind == "receivable":
        return no_such_receivable(named.value)
    if named.kind == "user":
        return CleavrNotFound(f"No user {named.value}: check the id (it starts with usr_clv_), or call "
                              "get_user_status with one of your creditors.", status=404, field=named.path)
    if named.kind == "event":
        return CleavrNotFound(f"No event {named.value}: check the id with list_events.", status=404, field=named.path)
    return CleavrNotFound(f"No extraction {named.value}: use the extraction_id extract_pdf returned for this "
                          "creditor (call extract_pdf again if needed).", status=404, field=named.path)


class Owners:
    """Who owns an id: a receivable's creditor (asked of Cleavr once, then kept in the server store and here:
    an owner never changes), an extraction's (recorded when extract_pdf made it), an event's (the inbox row)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], str] = {}

    def _keep(self, kind: str, id_: str, owner: str) -> str:
        if len(self._cache) >= OWNER_CACHE_SIZE:
            self._cache.clear()  # cheap and rare: the store still has them all
        self._cache[(kind, id_)] = owner
        return owner

    async def receivable_owner(self, state: Any, receivable_id: str) -> str | None:
        """None: no such receivable. Other API failures raise (the caller answers them as they are)."""
        from ..cleavr.errors import CleavrNotFound

        if (owner := self._cache.get(("receivable", receivable_id))) is not None:
            return owner
        owner = await state.store.owner_of("receivable", receivable_id)
        if owner is None:
            try:
                owner = (await state.client.get_receivable(receivable_id)).user_id
            except CleavrNotFound:
                return None
            await state.store.remember_owner("receivable", receivable_id, owner)
        return self._keep("receivable", receivable_id, owner)

    async def extraction_owner(self, state: Any, extraction_id: str) -> str | None:
        if (owner := self._cache.get(("extraction", extraction_id))) is not None:
            return owner
        owner = await state.store.owner_of("extraction", extraction_id)
        return self._keep("extraction", extraction_id, owner) if owner is not None else None

    async def remember(self, state: Any, kind: str, id_: str, owner: str) -> None:
        await state.store.remember_owner(kind, id_, owner)
        self._keep(kind, id_, owner)


async def _event_visible(state: Any, event_id: str, principal: Principal) -> bool:
    hub = state.extras.get("events")
    if hub is None:
        return False
    return await hub.inbox.get(event_id, creditors=principal.user_ids) is not None


def state_for_guard(context: Any) -> Any:
    """The lifespan state of the request a tool context belongs to (None: no request, e.g. a direct call)."""
    try:
        return context.request_context.lifespan_context if context is not None else None
    except (AttributeError, LookupError, ValueError):
        return None


async def refusal(owners: Owners, state: Any, tool: str, arguments: dict[str, Any]) -> Any:
    """None when the caller may act for every id in the arguments; else the isError result to return instead —
    the same one a non-existent id gets — after auditing the refusal with the principal's name. Costs nothing for
    a principal acting for every creditor."""
    principal = current_principal()
    if principal.every_creditor:
        return None
    from ..toolkit.errors import error_result, from_exception

    names = named_ids(arguments)
    if names is None:
        return error_result(code="VALIDATION_ERROR", message="The arguments are too large to check.", tool=tool)
    refused: Named | None = None
    try:
        for named in sorted(names, key=lambda n: _COST[n.kind]):  # the free checks first
            if not await _may_act(owners, state, principal, named):
                refused = named
                break
    except Exception as exc:  # noqa: BLE001 - Cleavr unreachable while looking up an owner: said as it is
        return from_exception(exc, tool=tool, environment=state.environment.value)
    if refused is None:
        return None
    from ..toolkit.confirm import payload_digest

    await state.store.append_audit(tool=tool, environment=state.environment.value, user_id=None,
                                   payload_sha256=payload_digest(arguments), confirmed_by="none", outcome="refused",
                                   error_code=f"OUT_OF_SCOPE:{refused.kind}")
    return from_exception(not_found(refused), tool=tool, environment=state.environment.value)


_COST = {"user": 0, "extraction": 1, "event": 1, "receivable": 2}


async def _may_act(owners: Owners, state: Any, principal: Principal, named: Named) -> bool:
    if named.kind == "user":
        return principal.may_act_for(named.value)
    if named.kind == "receivable":
        return principal.may_act_for(await owners.receivable_owner(state, named.value))
    if named.kind == "extraction":
        return principal.may_act_for(await owners.extraction_owner(state, named.value))
    return await _event_visible(state, named.value, principal)


async def after_call(owners: Owners, state: Any, tool: str, arguments: dict[str, Any], result: Any) -> Any:
    """What a successful create_user / extract_pdf tells the guard: the new extraction's creditor, the creditor a
    create_users principal made (granted to it on every replica). A create_user answered with another
    principal's existing creditor (same details) is refused as USER_EXISTS, without its id or onboarding link."""
    content = getattr(result, "structured_content", None)
    if getattr(result, "is_error", False) or not isinstance(content, dict):
        return result
    principal = current_principal()
    if tool == "extract_pdf":
        extraction_id = content.get("extraction_id")
        owner = arguments.get("user_id")  # the guard checked it before the call
        if isinstance(extraction_id, str) and isinstance(owner, str):
            await owners.remember(state, "extraction", extraction_id, owner)
        return result
    user_id = content.get("user_id")
    if tool != "create_user" or not isinstance(user_id, str) or principal.every_creditor:
        return result
    if content.get("idempotent_replay") and not principal.may_act_for(user_id):
        from ..toolkit.errors import error_result

        await state.store.append_audit(tool=tool, environment=state.environment.value, user_id=None,
                                       payload_sha256="-", confirmed_by="none", outcome="refused",
                                       error_code="OUT_OF_SCOPE:user")
        return error_result(code="USER_EXISTS", tool=tool, environment=state.environment.value,
                            message="A creditor with these details exists already, and it is not one of yours.",
                            next_step="Check the details with the person; a creditor is onboarded once, by the "
                                      "platform customer it belongs to.")
    if principal.create_users:
        await state.store.grant_user(principal.name, user_id)
    return result
