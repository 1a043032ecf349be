"""Hostile content: HTML/JS in posts and author names stays inert in the web UI and the reports,
formula-like cells are neutralised in CSV/XLSX exports, and report or file names cannot walk paths."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from api.security import CONTENT_SECURITY_POLICY
from index.models import Kind, Tone
from index.profile import Profile
from index.sqlite import SqliteStore
from risk.content_plan import build_plan, plan_csv, plan_xlsx
from risk.report_md import render_markdown
from risk.reports import build_report
from risk.spreadsheet import FORMULA_TRIGGERS, append_xlsx_row, csv_cell, is_formula_like
from tests.api.conftest import NOW, ROLE_KEYS, build_profile, headers, seed
from tests.factories import BASE_TIME, make_incident, make_post
from tests.risk.test_content_plan import NOW as PLAN_NOW
from tests.risk.test_content_plan import _fill as fill_plan_world
from tests.risk.test_content_plan import _profile as plan_profile
from tests.security.conftest import AppFactory

SCRIPT = "<script>alert('xss')</script>"
IMG = '<img src=x onerror="alert(1)">'
NAME = f'Вася {IMG}"><svg onload=alert(2)>'
FORMULAS = ["=1+1", "+7 900", "-2+3", "@SUM(A1)", '=HYPERLINK("http://evil";"жми")', "\t=1", "\r=1"]


@pytest.fixture
def hostile(sqlite_store: SqliteStore) -> Iterator[dict[str, str]]:
    seeded = seed(sqlite_store)
    post = make_post(
        id="vk:-1_666",
        text=f"Жалоба {SCRIPT} {IMG} на яму",
        lemmas="жалоба на яма",
        author_name=NAME,
        author_id="a666",
        sector="дороги",
        territory="centr",
        kind=Kind.complaint,
        tone=Tone.negative,
        published_at=BASE_TIME + timedelta(days=1, hours=3),
        url="javascript:alert(3)",
    )
    sqlite_store.upsert_posts([post])
    incident = make_incident(
        title=f"Яма {SCRIPT}",
        place=f"ул. {IMG}",
        recipient="roads",
        post_ids=[post.id],
        created_at=post.published_at,
    )
    sqlite_store.save_incident(incident)
    yield {"post": post.id, "incident": incident.id, **{k: v for k, v in seeded.alerts.items()}}


def _assert_inert(html: str) -> None:
    assert SCRIPT not in html and "<img src=x" not in html and "<svg onload" not in html
    assert "&lt;script&gt;" in html or "&lt;img" in html  # it is shown, escaped


@pytest.mark.parametrize("role", ["admin", "cur", "recipient:roads"])
def test_web_pages_escape_hostile_posts_and_names(
    make_app: AppFactory, hostile: dict[str, str], role: str
) -> None:
    pages = {
        "admin": ["/ui/posts/{post}", "/ui/search?q=яма", "/ui/incidents/{incident}", "/ui/incidents", "/"],
        "cur": ["/ui/incidents/{incident}", "/ui/incidents", "/"],
        "recipient:roads": ["/ui/incidents/{incident}", "/ui/incidents"],
    }[role]
    with TestClient(make_app(rate_limit_per_key="", rate_limit_per_ip="")) as client:
        client.cookies.set("infopole_key", ROLE_KEYS[role])
        for page in pages:
            answer = client.get(page.format(**hostile))
            assert answer.status_code == 200, (page, answer.status_code)
            assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert "script-src 'none'" in CONTENT_SECURITY_POLICY  # javascript: links cannot run either
            body = answer.text
            assert SCRIPT not in body and "<img src=x" not in body and "<svg onload" not in body, page
            if page.startswith(("/ui/posts", "/ui/incidents/")):
                assert "&lt;script&gt;" in body or "&lt;img" in body, page


def test_api_returns_hostile_text_as_json_data(make_app: AppFactory, hostile: dict[str, str]) -> None:
    with TestClient(make_app()) as client:
        answer = client.get(f"/posts/{hostile['post']}", headers=headers("admin"))
        assert answer.headers["content-type"].startswith("application/json")
        assert SCRIPT in answer.json()["text"]  # data, not markup; X-Content-Type-Options keeps it so
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_markdown_report_makes_html_inert_and_drops_unsafe_links(
    hostile: dict[str, str], sqlite_store: SqliteStore
) -> None:
    report = build_report(
        sqlite_store,
        _api_profile(),
        "reference",
        BASE_TIME,
        NOW + timedelta(days=1),
        NOW,
        reveal_personal=True,
    )
    text = render_markdown(report)
    assert "<script" not in text and "<img" not in text and "<svg" not in text
    assert "javascript:" not in text
    assert "&lt;script&gt;" in text or "&lt;img" in text


def _api_profile() -> Profile:
    return build_profile()


# Formula injection


@given(st.text(max_size=30))
@settings(max_examples=200, deadline=None)
def test_csv_cell_never_starts_with_a_formula_trigger(value: str) -> None:
    cell = csv_cell(value)
    assert not str(cell).startswith(FORMULA_TRIGGERS)
    assert cell == value or cell == "'" + value


@given(st.text(alphabet=st.sampled_from("=+-@\t\r1A(\";'ЖЯ "), max_size=12))
@settings(max_examples=100, deadline=None)
def test_xlsx_cells_are_never_formulas(value: str) -> None:
    book = Workbook()
    sheet = book.active
    append_xlsx_row(sheet, ["заголовок", value])
    buffer = io.BytesIO()
    book.save(buffer)
    cell = load_workbook(io.BytesIO(buffer.getvalue())).active["B1"]
    assert cell.data_type != "f"
    assert (cell.value or "") == value or value.strip() == ""  # shown exactly as said


def test_content_plan_exports_neutralise_formulas(sqlite_store: SqliteStore) -> None:
    fill_plan_world(sqlite_store)
    plan = build_plan(sqlite_store, plan_profile(), PLAN_NOW)
    assert len(plan.slots) >= len(FORMULAS) // 2
    for slot, formula in zip(plan.slots, FORMULAS, strict=False):
        slot.title = formula
        if slot.suggestion is not None:
            slot.suggestion.reason = formula
            slot.suggestion.key_points = [formula]
    rows = list(csv.reader(io.StringIO(plan_csv(plan)), delimiter=";"))
    cells = [cell for row in rows for cell in row]
    assert not any(is_formula_like(cell) for cell in cells)
    assert "'=1+1" in cells and "'@SUM(A1)" in cells
    sheet = load_workbook(io.BytesIO(plan_xlsx(plan))).active
    values = [c for row in sheet.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in values)
    assert "=1+1" in {c.value for c in values}  # XLSX keeps the text exactly, as a string


# Path traversal

TRAVERSALS = [
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "/etc/passwd",
    "docx/../../x",
    "md\\..\\x",
    "md\x00",
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_report_formats_and_weeks_refuse_paths(make_app: AppFactory, name: str) -> None:
    with TestClient(make_app(rate_limit_per_key="", rate_limit_per_ip="")) as client:
        for url, params in [
            ("/reports/weekly/file", {"format": name}),
            ("/reports/reference/file", {"format": name}),
            ("/content-plan/export", {"format": name}),
            ("/content-plan/export", {"week": name}),
        ]:
            answer = client.get(url, params=params, headers=headers("admin"))
            assert answer.status_code == 422, (url, params, answer.status_code)
        client.cookies.set("infopole_key", ROLE_KEYS["admin"])
        page = client.get("/ui/reports/file", params={"format": name})
        assert page.status_code == 422 and "attachment" not in page.headers.get("content-disposition", "")


@pytest.mark.parametrize(
    "path", ["/static/../api/app.py", "/static/%2e%2e/api/app.py", "/static/..%2fapp.py"]
)
def test_static_files_stay_in_their_folder(make_app: AppFactory, path: str) -> None:
    with TestClient(make_app()) as client:
        answer = client.get(path)
        assert answer.status_code == 404 or "create_app" not in answer.text


def test_download_names_are_plain(make_app: AppFactory, hostile: dict[str, str]) -> None:
    safe = re.compile(r'attachment; filename="[A-Za-z0-9._-]+"')
    with TestClient(make_app(rate_limit_per_key="", rate_limit_per_ip="")) as client:
        for url, params in [
            ("/reports/weekly/file", {"format": "md"}),
            ("/reports/reference/file", {"format": "md", "topic": "../../x", "sector": "<b>"}),
            ("/content-plan/export", {"format": "csv"}),
            ("/content-plan/export", {"format": "xlsx"}),
        ]:
            answer = client.get(url, params=params, headers=headers("admin"))
            assert answer.status_code == 200, (url, answer.text[:200])
            assert safe.fullmatch(answer.headers["content-disposition"]), answer.headers[
                "content-disposition"
            ]
