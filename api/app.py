"""Build the FastAPI application: routers, API-key auth, error handlers, the web UI and its static files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from anyio import to_thread
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from api.deps import AppContext, get_principal
from api.errors import install_error_handlers
from api.indicators_cache import IndicatorsCache
from api.keys import StoredKeyRing, keys_path
from api.ratelimit import install_rate_limits
from api.routes import (
    alerts,
    content_plan,
    health,
    incidents,
    indicators,
    pages,
    posts,
    reports,
    sources,
    web,
)
from api.security import install_security
from index.models import utcnow
from index.profile import Profile, load_profile
from index.store import Store
from infopole.settings import Settings, load_settings

DESCRIPTION = (
    "API системы мониторинга информационного поля муниципалитета. Все методы, кроме /healthz, "
    "требуют API-ключ в заголовке X-API-Key (или cookie после входа в веб-интерфейс)."
)


def default_profile(settings: Settings) -> Profile:
    """Load the configured profile, or the bundled demo profile when none is configured."""
    if settings.profile is not None:
        return load_profile(settings.profile)
    from crawlers.demo import DEMO_PROFILE_PATH

    return load_profile(DEMO_PROFILE_PATH)


def default_store(settings: Settings) -> Store:
    """Open the embedded SQLite store under the data directory."""
    from index.sqlite import SqliteStore

    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(settings.sqlite_path)


def profile_timezone(profile: Profile) -> tzinfo:
    """Return the profile's timezone; raise ValueError with a Russian message if it is unknown."""
    try:
        return ZoneInfo(profile.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"неизвестный часовой пояс в профиле: {profile.timezone!r}") from exc


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    profile: Profile | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Return the API + web UI application; missing parts come from the settings.

    A store opened here is closed on shutdown; a store passed in belongs to the caller. Raises
    ValueError (Russian message) when the keys, roles or profile timezone are invalid.
    """
    if settings is None:
        settings = load_settings()
    if profile is None:
        profile = default_profile(settings)
    keys = StoredKeyRing(
        settings.api.keys,
        known_recipients=[r.id for r in profile.recipients],
        path=keys_path(settings.data_dir),
    )
    owns_store = store is None
    ctx = AppContext(
        settings=settings,
        store=store if store is not None else default_store(settings),
        profile=profile,
        clock=clock or utcnow,
        keys=keys,
        timezone=profile_timezone(profile),
        indicators_cache=(
            IndicatorsCache(settings.data_dir / "cache" / "indicators", ttl_s=settings.api.indicators_ttl_s)
            if settings.api.indicators_ttl_s > 0
            else None
        ),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.api.threads
        yield
        if owns_store:
            ctx.store.close()

    app = FastAPI(
        title="Инфополе",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads scripts from a CDN; the UI must work offline
        redoc_url=None,
        openapi_url=None,  # served below behind the API key
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    install_rate_limits(app, settings.api.rate_limit_per_key, settings.api.rate_limit_per_ip)
    install_security(app, settings.api.cors_origins)

    app.include_router(health.router)
    app.include_router(posts.router)
    app.include_router(incidents.router)
    app.include_router(alerts.router)
    app.include_router(indicators.router)
    app.include_router(pages.router)
    app.include_router(content_plan.router)
    app.include_router(reports.router)
    app.include_router(sources.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(get_principal)])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    return app
