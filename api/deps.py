"""Request dependencies: the app context (store, profile, clock, keys) and the authenticated caller.

They are coroutines: none of them waits on I/O, and FastAPI would run a plain function in a worker
thread (a thread hop per dependency per request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, APIKeyHeader

from api.auth import API_KEY_COOKIE, API_KEY_HEADER, KeyRing, Permission, Principal
from api.indicators_cache import IndicatorsCache
from index.models import as_utc
from index.profile import Profile
from index.store import Store
from infopole.settings import Settings

#: Message for a missing or unknown key.
UNAUTHORIZED_MESSAGE = "нужен действующий API-ключ: заголовок X-API-Key или вход через веб-интерфейс"
#: Message for a role that may not do the thing.
FORBIDDEN_MESSAGE = "недостаточно прав для этого действия"


@dataclass
class AppContext:
    """Everything a handler needs, built once by `create_app`."""

    settings: Settings
    store: Store
    profile: Profile
    clock: Callable[[], datetime]
    keys: KeyRing
    timezone: tzinfo
    indicators_cache: IndicatorsCache | None = None  # None: /indicators computed on every request

    def now(self) -> datetime:
        """Return the current (possibly virtual) time as aware UTC."""
        return as_utc(self.clock())


async def get_context(request: Request) -> AppContext:
    """Return the app context stored on the application."""
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_store(ctx: ContextDep) -> Store:
    """Return the store."""
    return ctx.store


async def get_profile(ctx: ContextDep) -> Profile:
    """Return the municipality profile."""
    return ctx.profile


async def get_now(ctx: ContextDep) -> datetime:
    """Return the current time from the app clock (aware UTC)."""
    return ctx.now()


StoreDep = Annotated[Store, Depends(get_store)]
ProfileDep = Annotated[Profile, Depends(get_profile)]
NowDep = Annotated[datetime, Depends(get_now)]

_header_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="API-ключ")
_cookie_scheme = APIKeyCookie(
    name=API_KEY_COOKIE, auto_error=False, description="Ключ, сохранённый формой входа"
)


async def get_optional_principal(
    ctx: ContextDep,
    header_key: Annotated[str | None, Depends(_header_scheme)],
    cookie_key: Annotated[str | None, Depends(_cookie_scheme)],
) -> Principal | None:
    """Return the caller behind the header key (preferred) or the login cookie, or None."""
    if header_key:
        return ctx.keys.authenticate(header_key)
    return ctx.keys.authenticate(cookie_key)


OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]


async def get_principal(principal: OptionalPrincipalDep) -> Principal:
    """Return the authenticated caller; raise 401 when the key is missing or unknown."""
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED_MESSAGE)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """Return a dependency that yields the caller if it holds `permission`, else raises 403."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if not principal.can(permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=FORBIDDEN_MESSAGE)
        return principal

    return dependency


PostsReader = Annotated[Principal, Depends(require(Permission.posts_read))]
IncidentsReader = Annotated[Principal, Depends(require(Permission.incidents_read))]
IncidentsTransitioner = Annotated[Principal, Depends(require(Permission.incidents_transition))]
IncidentsAssigner = Annotated[Principal, Depends(require(Permission.incidents_assign))]
AlertsReader = Annotated[Principal, Depends(require(Permission.alerts_read))]
AlertsAcker = Annotated[Principal, Depends(require(Permission.alerts_ack))]
SubscriptionsManager = Annotated[Principal, Depends(require(Permission.subscriptions_manage))]
IndicatorsReader = Annotated[Principal, Depends(require(Permission.indicators_read))]
