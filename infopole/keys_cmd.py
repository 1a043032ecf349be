"""`infopole keys add|list|revoke`: manage the API keys stored (hashed) under the data directory."""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo

import typer

from api.auth import RECIPIENT_ROLE_PREFIX, ROLE_TITLES, AuthConfigError
from api.keys import KeyStoreError, StoredKey, add_key, keys_path, load_keys, revoke_key
from index.models import utcnow
from index.profile import Profile, ProfileError
from infopole.settings import Settings, load_settings


def _fail(message: str) -> typer.Exit:
    """Print a Russian error to stderr and return the exit to raise."""
    typer.echo(f"ошибка: {message}", err=True)
    return typer.Exit(code=1)


def _settings() -> Settings:
    """Return the settings or exit with their Russian error."""
    try:
        return load_settings()
    except ValueError as exc:
        raise _fail(str(exc)) from exc


def _profile(settings: Settings) -> Profile:
    """Return the configured profile (the demo one when none is set) or exit with its error."""
    from api.app import default_profile

    try:
        return default_profile(settings)
    except ProfileError as exc:
        raise _fail(str(exc)) from exc


def _zone(profile: Profile) -> tzinfo:
    """Return the profile's time zone, UTC when it is unknown."""
    try:
        return ZoneInfo(profile.timezone)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def role_title(role: str) -> str:
    """Return the Russian name of a role («исполнитель roads» for recipient:roads)."""
    if role.startswith(RECIPIENT_ROLE_PREFIX):
        return f"{ROLE_TITLES['recipient']} {role[len(RECIPIENT_ROLE_PREFIX) :]}"
    return ROLE_TITLES.get(role, role)


def add(role: str, name: str) -> None:
    """Create a key, print it once on stdout and what it is on stderr."""
    settings = _settings()
    profile = _profile(settings)
    path = keys_path(settings.data_dir)
    try:
        entry, key = add_key(path, role, utcnow(), name, known_recipients=[r.id for r in profile.recipients])
    except (AuthConfigError, KeyStoreError) as exc:
        raise _fail(str(exc)) from exc
    except OSError as exc:
        raise _fail(f"не удалось записать файл ключей {path}: {exc.strerror or exc}") from exc
    typer.echo(key)
    label = f" «{entry.name}»" if entry.name else ""
    typer.echo(
        f"создан ключ {entry.id}{label} с ролью {entry.role} ({role_title(entry.role)}). "
        "Сохраните его сейчас: он показан один раз и нигде не хранится.",
        err=True,
    )


def format_row(entry: StoredKey, tz: tzinfo) -> str:
    """Return one line of `keys list` for a key (never the key itself)."""
    created = entry.created_at.astimezone(tz).strftime("%d.%m.%Y %H:%M")
    if entry.revoked_at is None:
        state = "действует"
    else:
        state = f"отозван {entry.revoked_at.astimezone(tz):%d.%m.%Y %H:%M}"
    return "\t".join([entry.id, entry.role, entry.name or "—", created, state])


def list_keys() -> None:
    """Print id, role, name, creation time and state of every stored key."""
    settings = _settings()
    tz = _zone(_profile(settings))
    path = keys_path(settings.data_dir)
    try:
        entries = load_keys(path)
    except KeyStoreError as exc:
        raise _fail(str(exc)) from exc
    if not entries:
        typer.echo(f"ключей в {path} нет; создать: infopole keys add --role analyst --name «...»")
    else:
        typer.echo("\t".join(["id", "роль", "имя", "создан", "состояние"]))
        for entry in entries:
            typer.echo(format_row(entry, tz))
    if settings.api.keys:
        typer.echo(f"и ещё ключей из окружения (API__KEYS): {len(settings.api.keys)}", err=True)


def revoke(ref: str) -> None:
    """Revoke the key with id (or unique name) `ref`."""
    settings = _settings()
    path = keys_path(settings.data_dir)
    try:
        entry = revoke_key(path, ref, utcnow())
    except KeyStoreError as exc:
        raise _fail(str(exc)) from exc
    except OSError as exc:
        raise _fail(f"не удалось записать файл ключей {path}: {exc.strerror or exc}") from exc
    label = f" «{entry.name}»" if entry.name else ""
    typer.echo(f"ключ {entry.id}{label} ({entry.role}) отозван; API перестанет его принимать сразу")
