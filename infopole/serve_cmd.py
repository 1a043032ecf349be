"""`infopole serve`: the API and web UI in one or several uvicorn processes."""

from __future__ import annotations

import typer

#: The application factory each API process imports (uvicorn needs an import string for several).
APP_FACTORY = "api.app:create_app"


def serve_api(host: str, port: int, workers: int | None) -> None:
    """Serve the API on host:port with `workers` processes (None: the `api.workers` setting).

    The settings, keys and profile are checked once here first, so a bad configuration stops with a
    Russian message instead of failing in every process.
    """
    import uvicorn

    from api.app import create_app

    try:
        application = create_app()
    except ValueError as exc:  # unsafe settings, bad keys or profile: say why and do not start
        typer.echo(f"ошибка: {exc}", err=True)
        raise typer.Exit(code=2) from None
    count = workers if workers is not None else application.state.ctx.settings.api.workers
    if count < 1:
        typer.echo("ошибка: число процессов API должно быть не меньше 1", err=True)
        raise typer.Exit(code=2)
    if count == 1:
        uvicorn.run(application, host=host, port=port)
        return
    application.state.ctx.store.close()  # each process opens its own store
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=count)
