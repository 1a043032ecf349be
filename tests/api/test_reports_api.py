"""GET /reports: the DOCX a caller downloads holds the numbers /indicators gives for the same period."""

from __future__ import annotations

import io

import pytest
from docx import Document
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from index.sqlite import SqliteStore
from risk.reports import change_label, number, pct
from tests.api.conftest import Clock, build_settings, headers
from tests.risk.test_indicators import NOW, build_profile, fill

PERIOD = {"since": "2024-03-04T00:00:00Z", "until": "2024-03-06T00:00:00Z"}


@pytest.fixture
def client(sqlite_store: SqliteStore) -> TestClient:
    fill(sqlite_store)
    app: FastAPI = create_app(build_settings(), sqlite_store, build_profile(), Clock(NOW))
    return TestClient(app)


def _text(content: bytes) -> str:
    doc = Document(io.BytesIO(content))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def test_docx_holds_the_numbers_of_the_indicators_api(client: TestClient) -> None:
    api = client.get("/indicators", params=PERIOD, headers=headers("cur")).json()
    response = client.get("/reports/weekly/file", params={**PERIOD, "format": "docx"}, headers=headers("cur"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="weekly-2024-03-04.docx"' in response.headers["content-disposition"]
    text = _text(response.content)
    assert number(api["volume"]["total"]) in text and number(api["volume"]["previous_total"]) in text
    assert change_label(api["volume"]["change_pct"]) in text
    assert pct(api["tension"]["index"]) in text and pct(api["negative_share"]) in text
    assert f"{api['incidents']['answered_on_time']} из {api['incidents']['opened']}" in text
    assert "Иван Петров" not in text  # the ЦУР gets pseudonymised authors


def test_reference_json_markdown_and_roles(client: TestClient) -> None:
    params = {**PERIOD, "sector": "жкх"}
    body = client.get("/reports/reference", params=params, headers=headers("analyst")).json()
    assert body["kind"] == "reference" and body["indicators"]["volume"]["total"] == 3
    assert body["pseudonymised"] is False
    md = client.get("/reports/reference/file", params={**params, "format": "md"}, headers=headers("cur"))
    assert md.status_code == 200 and md.text.startswith("# Справка") and "Иван Петров" not in md.text
    assert client.get("/reports/reference", params=params).status_code == 401
    assert (
        client.get("/reports/reference", params=params, headers=headers("recipient:uk-dom")).status_code
        == 403
    )
    bad = client.get(
        "/reports/reference",
        params={"since": "2024-03-06T00:00:00Z", "until": "2024-03-01T00:00:00Z"},
        headers=headers("cur"),
    )
    assert bad.status_code == 422 and "раньше" in bad.json()["detail"]


def test_pdf_without_libreoffice_is_406_with_a_message(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.report_files.soffice_path", lambda: None)
    response = client.get("/reports/weekly/file", params={**PERIOD, "format": "pdf"}, headers=headers("head"))
    assert response.status_code == 406 and "LibreOffice" in response.json()["detail"]


def test_weekly_defaults_to_the_last_full_week(client: TestClient) -> None:
    body = client.get("/reports/weekly", headers=headers("head")).json()
    # NOW is Wednesday 06.03.2024: the last full week is 26.02–03.03 (Moscow).
    assert body["since"] == "2024-02-25T21:00:00Z" and body["until"] == "2024-03-03T21:00:00Z"
    assert body["pages"] == []
