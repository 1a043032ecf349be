"""The `infopole` command line: stable commands that scripts and evaluations call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="infopole",
    help="Инфополе: мониторинг информационного поля муниципалитета.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals would print settings, keys included
)


@app.command()
def run(
    demo: Annotated[
        bool, typer.Option("--demo", help="Проигрывать демо-поток образцового муниципалитета.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Порт API и веб-интерфейса.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Адрес, на котором слушает API.")] = "127.0.0.1",
    speed: Annotated[
        float, typer.Option("--speed", help="Сжатие времени демо-потока: секунд потока в секунду.")
    ] = 4000.0,
    workers: Annotated[int, typer.Option("--workers", help="Число процессов-обработчиков.")] = 2,
) -> None:
    """Запустить встроенный стек: хранилище, брокер, обработчики, планировщик, API и веб-интерфейс."""
    from infopole.embedded import run_embedded

    run_embedded(demo=demo, host=host, port=port, speed=speed, workers=workers)


@app.command()
def serve(
    port: Annotated[int, typer.Option("--port", help="Порт API и веб-интерфейса.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Адрес, на котором слушает API.")] = "127.0.0.1",
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Число процессов API (по умолчанию — настройка API__WORKERS, 2)."),
    ] = None,
) -> None:
    """Запустить только API и веб-интерфейс (режим масштабирования: брокер и обработчики отдельно)."""
    from infopole.serve_cmd import serve_api

    serve_api(host, port, workers)


@app.command()
def enrich(
    input_path: Annotated[Path, typer.Argument(help="Входной файл: JSONL или CSV.", metavar="IN")],
    out: Annotated[Path, typer.Option("--out", help="Куда записать JSONL с разметкой.")],
    text_column: Annotated[str, typer.Option("--text-column", help="Поле или столбец с текстом.")] = "text",
    model: Annotated[
        Path | None, typer.Option("--model", help="Модель, обученная командой `infopole train`.")
    ] = None,
    profile: Annotated[
        Path | None, typer.Option("--profile", help="Профиль муниципалитета (YAML) для распознавания мест.")
    ] = None,
    gazetteer: Annotated[
        list[Path] | None,
        typer.Option(
            "--gazetteer", help="Справочник адресов CSV: district,settlement,street (можно несколько)."
        ),
    ] = None,
    appeals: Annotated[
        bool,
        typer.Option(
            "--appeals",
            help="Все тексты — обращения граждан к муниципалитету (выгрузка портала или горячей линии).",
        ),
    ] = False,
) -> None:
    """Разметить тексты: сектор, тема, тип, тональность, агрессия, места, дубликаты."""
    from infopole.enrich import enrich_file

    enrich_file(
        input_path,
        out,
        text_column=text_column,
        model_path=model,
        profile_path=profile,
        gazetteer_paths=gazetteer or [],
        appeals=appeals,
    )


@app.command()
def spikes(
    series: Annotated[Path, typer.Argument(help="CSV с колонками timestamp,value (ровный шаг).")],
    out: Annotated[Path | None, typer.Option("--out", help="Куда записать JSON со всплесками.")] = None,
) -> None:
    """Найти всплески в любом временном ряду timestamp,value."""
    from infopole.spikes_cmd import spikes_file

    spikes_file(series, out)


@app.command()
def train(
    task: Annotated[str, typer.Argument(help="Что обучать: topics, tone или aggression.")],
    file: Annotated[Path, typer.Argument(help="Размеченный CSV или XLSX (например, выгрузка ИМ).")],
    text_column: Annotated[str, typer.Option("--text-column", help="Столбец с текстом.")],
    label_column: Annotated[str, typer.Option("--label-column", help="Столбец с меткой.")],
    out: Annotated[Path, typer.Option("--out", help="Файл модели.")],
) -> None:
    """Обучить модель на собственной истории центра."""
    from infopole.train import train_file

    train_file(task, file, text_column=text_column, label_column=label_column, out=out)


@app.command("demo-generate")
def demo_generate(
    out: Annotated[Path, typer.Option("--out", help="Папка для демо-потока и эталонной разметки.")],
    seed: Annotated[int, typer.Option("--seed", help="Зерно генератора.")] = 7,
) -> None:
    """Сгенерировать демо-поток (14 дней, 20 000+ сообщений) и его эталонную разметку."""
    from crawlers.demo.generator import write_demo

    paths = write_demo(out, seed=seed)
    typer.echo(f"демо-поток: {paths.stream}; эталон: {paths.truth}")


@app.command()
def crawl(
    source: Annotated[str, typer.Argument(help="Источник: vk, ok, tg или web.")],
    once: Annotated[bool, typer.Option("--once", help="Один проход и выход.")] = False,
) -> None:
    """Собрать сообщения одного источника в этом процессе (без брокера), с курсором в хранилище."""
    from infopole.crawl_cmd import crawl as crawl_source

    crawl_source(source, once)


@app.command("import")
def import_export(
    kind: Annotated[str, typer.Argument(help="Что импортировать: im («Инцидент Менеджмент») или pos (ПОС).")],
    file: Annotated[Path, typer.Argument(help="Файл выгрузки: XLSX или CSV.")],
) -> None:
    """Импортировать выгрузку ИМ или ПОС: сообщения и история инцидентов попадут в хранилище."""
    from crawlers.imports import ImportFileError, importer
    from index.models import utcnow
    from index.profile import ProfileError, load_profile
    from infopole.settings import load_settings
    from risk.understand import Understander
    from worker.runtime import open_store, profile_path

    try:
        run_import = importer(kind)
        settings = load_settings()
        profile = load_profile(profile_path(settings))
    except (ImportFileError, ProfileError, ValueError) as exc:
        typer.echo(f"ошибка: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    try:
        report = run_import(file, store, profile, Understander(profile), utcnow())
    except ImportFileError as exc:
        typer.echo(f"ошибка: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    finally:
        store.close()
    for line in report.lines():
        typer.echo(line)


@app.command()
def forget(
    author: Annotated[
        str,
        typer.Argument(
            help="Автор: псевдоним из интерфейса, учётная запись (vk:12345, ok:user:5, tg:777) "
            "или ссылка на профиль (vk.com/id12345).",
            metavar="AUTHOR",
        ),
    ],
) -> None:
    """Удалить все данные одного человека: сообщения, ссылки на них в инцидентах и уведомлениях."""
    from index.models import utcnow
    from index.store import StoreError
    from infopole.forget import ForgetError, forget
    from infopole.settings import load_settings
    from worker.runtime import open_store

    try:
        settings = load_settings()
        store = open_store(settings)
    except (StoreError, ValueError) as exc:
        raise _fail(exc) from exc
    try:
        result = forget(store, author, settings.pseudonym_key, utcnow())
    except (ForgetError, StoreError) as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    by_source = ", ".join(f"{name}: {n}" for name, n in result.sources.items())
    typer.echo(
        f"автор {result.author_id}: удалено сообщений {result.posts}"
        + (f" ({by_source})" if by_source else "")
    )
    typer.echo("выгрузки и справки, сохранённые вне системы до удаления, нужно удалить вручную")


keys_app = typer.Typer(
    help="Ключи доступа к API и веб-интерфейсу: хранятся только их хеши (SHA-256) в папке данных.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


@keys_app.command("add")
def keys_add(
    role: Annotated[
        str,
        typer.Option(
            "--role", help="Роль: admin, head, analyst, info_lead, cur или recipient:<id исполнителя>."
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="Кому выдан ключ (для списка и журнала).")] = "",
) -> None:
    """Создать ключ и показать его один раз."""
    from infopole.keys_cmd import add

    add(role, name)


@keys_app.command("list")
def keys_list() -> None:
    """Показать ключи: id, роль, имя, дата создания, состояние (сами ключи не показываются)."""
    from infopole.keys_cmd import list_keys

    list_keys()


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="id ключа из `infopole keys list` (или его имя).")],
) -> None:
    """Отозвать ключ: API перестанет его принимать сразу."""
    from infopole.keys_cmd import revoke

    revoke(key_id)


# Scale-out: Elasticsearch and Kibana ------------------------------------------------------------


def _fail(exc: Exception) -> typer.Exit:
    """Print a Russian error and return the exit to raise."""
    typer.echo(f"ошибка: {exc}", err=True)
    return typer.Exit(code=2)


@app.command()
def migrate(
    to: Annotated[str, typer.Option("--to", help="Куда перенести данные: elastic.")],
    source_file: Annotated[
        Path | None, typer.Option("--from", help="Файл встроенного хранилища (по умолчанию из настроек).")
    ] = None,
) -> None:
    """Перенести данные встроенного хранилища (SQLite) в Elasticsearch; повторный запуск безопасен."""
    from index.store import StoreError
    from infopole.elastic_cmd import migrate_to_elastic
    from infopole.settings import load_settings

    if to != "elastic":
        raise _fail(ValueError(f"перенос возможен только в elastic, а не в {to!r}"))
    try:
        code = migrate_to_elastic(load_settings(), source_file)
    except (StoreError, FileNotFoundError, ValueError) as exc:
        raise _fail(exc) from exc
    raise typer.Exit(code=code)


@app.command()
def reindex(
    remap: Annotated[
        bool,
        typer.Option("--remap", help="Заново разобрать исходные объекты API и заново разметить тексты."),
    ] = False,
) -> None:
    """Перестроить индексы сообщений Elasticsearch по текущим шаблонам (после изменения схемы)."""
    from index.store import StoreError
    from infopole.elastic_cmd import reindex as run_reindex
    from infopole.settings import load_settings

    try:
        code = run_reindex(load_settings(), remap=remap)
    except (StoreError, ValueError) as exc:
        raise _fail(exc) from exc
    raise typer.Exit(code=code)


@app.command()
def retention(
    days: Annotated[
        int | None, typer.Option("--days", help="Срок хранения, дней (по умолчанию STORE__RETENTION_DAYS).")
    ] = None,
) -> None:
    """Удалить сообщения старше срока хранения (в любом хранилище)."""
    from index.store import StoreError
    from infopole.elastic_cmd import retention as run_retention
    from infopole.settings import load_settings

    try:
        run_retention(load_settings(), days)
    except (StoreError, ValueError) as exc:
        raise _fail(exc) from exc


elastic_app = typer.Typer(help="Elasticsearch: подготовка кластера.", no_args_is_help=True)
app.add_typer(elastic_app, name="elastic")


@elastic_app.command("setup")
def elastic_setup(
    kibana_password_env: Annotated[
        str,
        typer.Option(
            "--kibana-password-env", help="Переменная окружения с паролем пользователя kibana_system."
        ),
    ] = "",
) -> None:
    """Дождаться кластера, задать пароль kibana_system, создать политику хранения, шаблоны и индексы."""
    from index.store import StoreError
    from infopole.elastic_cmd import elastic_setup as run_setup
    from infopole.elastic_cmd import env_secret
    from infopole.settings import load_settings

    password = env_secret(kibana_password_env) if kibana_password_env else ""
    if kibana_password_env and not password:
        raise _fail(ValueError(f"переменная {kibana_password_env} не задана"))
    try:
        run_setup(load_settings(), password)
    except (StoreError, RuntimeError, ValueError) as exc:
        raise _fail(exc) from exc


kibana_app = typer.Typer(help="Kibana: дашборды Инфополя.", no_args_is_help=True)
app.add_typer(kibana_app, name="kibana")


@kibana_app.command("load")
def kibana_load(
    file: Annotated[
        Path | None,
        typer.Option("--file", help="NDJSON сохранённых объектов (по умолчанию встроенные дашборды)."),
    ] = None,
    wait: Annotated[float, typer.Option("--wait", help="Сколько секунд ждать готовности Kibana.")] = 300.0,
) -> None:
    """Загрузить дашборды в Kibana через API импорта (с перезаписью)."""
    from dashboards.build import NDJSON_PATH
    from dashboards.kibana import KibanaError, load_dashboards
    from infopole.settings import load_settings

    try:
        settings = load_settings()
        result = load_dashboards(
            settings.kibana.url,
            settings.kibana.user,
            settings.kibana.password.get_secret_value(),
            path=file or NDJSON_PATH,
            prefix=settings.store.es_prefix,
            space=settings.kibana.space,
            wait_s=wait,
        )
    except (KibanaError, OSError, ValueError) as exc:
        raise _fail(exc) from exc
    typer.echo(f"в Kibana загружено объектов: {result.success_count}")


report_app = typer.Typer(help="Справки и еженедельная аналитическая записка (DOCX, Markdown, PDF).")
app.add_typer(report_app, name="report")

_FORMAT_HELP = "Формат: docx (с графиками), md, pdf (нужен LibreOffice) или json."


@report_app.command("reference")
def report_reference(
    out: Annotated[Path, typer.Option("--out", help="Куда записать документ.")],
    since: Annotated[str | None, typer.Option("--since", help="Начало периода, ГГГГ-ММ-ДД[ТЧЧ:ММ].")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Конец периода (не включительно).")] = None,
    sector: Annotated[str | None, typer.Option("--sector", help="Сектор.")] = None,
    topic: Annotated[str | None, typer.Option("--topic", help="Тема.")] = None,
    territory: Annotated[str | None, typer.Option("--territory", help="id территории из профиля.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Источник: vk, tg, ok, web...")] = None,
    fmt: Annotated[str, typer.Option("--format", help=_FORMAT_HELP)] = "docx",
    names: Annotated[
        bool, typer.Option("--names/--no-names", help="Показывать имена жителей (по умолчанию обезличены).")
    ] = False,
) -> None:
    """Справка по теме или сектору, территории и периоду (по умолчанию — последние 7 дней)."""
    from infopole.report_cmd import write_report
    from risk.indicators import Slice

    if fmt not in ("docx", "md", "pdf", "json"):
        raise typer.BadParameter(f"неизвестный формат «{fmt}»: docx, md, pdf или json")
    sl = Slice(sector=sector, topic=topic, territory=territory, source=source)
    path = write_report("reference", out, fmt, since, until, sl, names)
    typer.echo(f"справка записана: {path}")


@report_app.command("weekly")
def report_weekly(
    out: Annotated[Path, typer.Option("--out", help="Куда записать документ.")],
    since: Annotated[str | None, typer.Option("--since", help="Начало периода, ГГГГ-ММ-ДД[ТЧЧ:ММ].")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Конец периода (не включительно).")] = None,
    fmt: Annotated[str, typer.Option("--format", help=_FORMAT_HELP)] = "docx",
    names: Annotated[
        bool, typer.Option("--names/--no-names", help="Показывать имена жителей (по умолчанию обезличены).")
    ] = False,
) -> None:
    """Еженедельная аналитическая записка (по умолчанию — последняя полная неделя)."""
    from infopole.report_cmd import write_report
    from risk.indicators import Slice

    if fmt not in ("docx", "md", "pdf", "json"):
        raise typer.BadParameter(f"неизвестный формат «{fmt}»: docx, md, pdf или json")
    path = write_report("weekly", out, fmt, since, until, Slice(), names)
    typer.echo(f"записка записана: {path}")


if __name__ == "__main__":
    app()
