"""Tests for infopole.enrich: streaming JSONL/CSV enrichment, bad rows reported, the rest processed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from infopole.cli import app
from infopole.enrich import ADDED_FIELDS, enrich_file

PROFILE_YAML = """
name: Тестовск
territories:
  - id: mo
    name: городской округ Тестовск
    level: municipality
    children:
      - id: central
        name: Центральный район
        streets: ["Ленина", "проспект Мира"]
"""

COMPLAINT = "Третий день нет горячей воды на ул. Ленина 15, когда дадут??"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_bad_csv(path: Path) -> None:
    lines = [
        b"id;text;author",
        ("1;" + COMPLAINT + ";anna").encode(),
        ("2;" + COMPLAINT + ";boris").encode(),
        ('3;"сломанная строка; с лишним полем";x;y').encode(),
        b"4;;empty",
        b"5;" + "нет ".encode() + b"\xff\xfe " + "света на Мира;bad-bytes".encode(),
        ('6;"' + "мусор не вывозят неделю " * 45_000 + '";huge').encode(),
        ('7;"незакрытая кавычка; яма на дороге;eve').encode(),
        ('8;"Спасибо за ремонт дороги на проспекте Мира!";fedor').encode(),
    ]
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")


def test_csv_with_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out, profile = tmp_path / "in.csv", tmp_path / "out" / "res.jsonl", tmp_path / "p.yaml"
    write_bad_csv(src)
    profile.write_text(PROFILE_YAML, encoding="utf-8")
    enrich_file(src, out, text_column="text", model_path=None, profile_path=profile)
    err = capsys.readouterr().err
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["1", "2", "5", "6", "8"]
    assert "строка 4: полей 4, а в заголовке 3" in err
    assert "строка 5: пустой текст — пропущена" in err
    assert "строка 6: неверные байты UTF-8 заменены" in err
    assert "строка 7: текст длиной" in err and "анализируются первые 20000" in err
    assert "строка 8: полей" in err  # the unbalanced quote costs only its own line
    assert "обработано 5, пропущено 3" in err
    first, second, bad_bytes, huge, thanks = rows
    assert set(ADDED_FIELDS) <= set(first)
    assert first["author"] == "anna" and first["text"] == COMPLAINT  # input fields kept
    assert first["sector"] == "ЖКХ" and first["kind"] == "complaint" and first["tone"] == "negative"
    assert first["territory"] == "central" and first["places"][0]["house"] == "15"
    assert first["duplicate_of"] is None and second["duplicate_of"] == "1"
    assert second["story_id"] == first["story_id"] == "1"
    assert "\ufffd" in str(bad_bytes["text"]) and bad_bytes["sector"] in ("ЖКХ", "Электроснабжение")
    assert huge["sector"] == "Мусор/Свалки/ТКО" and len(str(huge["text"])) > 1_000_000
    assert thanks["kind"] == "gratitude" and thanks["tone"] == "positive"


def test_jsonl_with_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps({"id": 10, "body": COMPLAINT, "meta": {"x": 1}}, ensure_ascii=False).encode()
        + b"\n{broken json\n[1, 2]\n\n"
        + b'{"id": 13}\n{"id": 14, "body": null}\n{"id": 15, "body": "\xff '
        + "яма на дороге".encode()
        + b'"}\n'
    )
    enrich_file(src, out, text_column="body", model_path=None, profile_path=None)
    err = capsys.readouterr().err
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == [10, 15]
    assert rows[0]["meta"] == {"x": 1} and rows[0]["places"] == [] and rows[0]["territory"] is None
    assert rows[1]["sector"] == "Дороги"
    for expected in (
        "строка 2: не разбирается как JSON",
        "строка 3: ожидался JSON-объект",
        "строка 5: нет поля 'body'",
        "строка 6: пустой текст",
        "строка 7: неверные байты UTF-8",
        "обработано 2, пропущено 4",
    ):
        assert expected in err


def test_missing_file_column_model_and_profile_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,text\n1,яма\n", encoding="utf-8")
    cases = [
        (tmp_path / "nope.csv", "text", None, None, "входной файл не найден"),
        (src, "body", None, None, "нет столбца 'body'; столбцы: id, text"),
        (src, "text", tmp_path / "nope.joblib", None, "файл модели не найден"),
        (src, "text", None, tmp_path / "nope.yaml", "файл профиля не найден"),
    ]
    for path, column, model, profile, message in cases:
        with pytest.raises(typer.Exit) as info:
            enrich_file(
                path, tmp_path / "out.jsonl", text_column=column, model_path=model, profile_path=profile
            )
        assert info.value.exit_code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_nothing_processed_exits_1(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": ""}\n{"text": "   "}\n', encoding="utf-8")
    with pytest.raises(typer.Exit) as info:
        enrich_file(src, tmp_path / "out.jsonl", text_column="text", model_path=None, profile_path=None)
    assert info.value.exit_code == 1


def test_cp1251_csv_is_detected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(('text\n"' + COMPLAINT + '"\nНа Мира яма\n').encode("cp1251"))
    enrich_file(src, tmp_path / "out.jsonl", text_column="text", model_path=None, profile_path=None)
    assert "cp1251" in capsys.readouterr().err
    assert read_jsonl(tmp_path / "out.jsonl")[0]["text"] == COMPLAINT


def test_cli_enrich(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": COMPLAINT}, ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["enrich", str(src), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 0, result.output
    assert read_jsonl(tmp_path / "o.jsonl")[0]["kind"] == "complaint"
    missing = CliRunner().invoke(app, ["enrich", str(tmp_path / "x.csv"), "--out", str(tmp_path / "o.jsonl")])
    assert missing.exit_code == 2


def test_gazetteer_csv_option_links_places_and_every_field_is_there(tmp_path: Path) -> None:
    excerpt = Path(__file__).resolve().parents[1] / "fixtures" / "gazetteer" / "spb_lo_excerpt.csv"
    src = tmp_path / "in.jsonl"
    lines = [
        {"id": "a", "text": "Прорвало трубу на Пролетарской улице 5 в Колпино, вода хлещет, когда приедут?"},
        {"id": "b", "text": "Прорвало трубу на Пролетарской улице 5 в Колпино, вода хлещет, когда приедут??"},
        {"id": "c", "text": "Спасибо за концерт в парке, было здорово"},
    ]
    src.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["enrich", str(src), "--out", str(out), "--gazetteer", str(excerpt)])
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    wanted = {"sector", "topic", "kind", "tone", "tone_score", "aggression", "aggression_markers", "places"}
    assert all(wanted | {"duplicate_of", "story_id", "needs_review"} <= set(r) for r in rows)
    assert [(p["level"], p["name"], p["house"]) for p in rows[0]["places"]][:2] == [
        ("house", "Пролетарская ул.", "5"),
        ("settlement", "Колпино", None),
    ]
    assert rows[0]["territory"] is not None and rows[0]["sector"] == "ЖКХ"
    assert rows[1]["duplicate_of"] == "a" and rows[1]["story_id"] == "a" and rows[2]["duplicate_of"] is None
    bad = CliRunner().invoke(
        app, ["enrich", str(src), "--out", str(out), "--gazetteer", str(tmp_path / "no.csv")]
    )
    assert bad.exit_code == 2 and "справочник адресов" in bad.output


def test_cli_enrich_appeals_gives_every_text_a_sector(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    vague = "Когда наконец примут меры, сколько можно ждать ответа"
    src.write_text(json.dumps({"text": vague}, ensure_ascii=False) + "\n", encoding="utf-8")
    plain, appeals = tmp_path / "plain.jsonl", tmp_path / "appeals.jsonl"
    assert CliRunner().invoke(app, ["enrich", str(src), "--out", str(plain)]).exit_code == 0
    result = CliRunner().invoke(app, ["enrich", str(src), "--out", str(appeals), "--appeals"])
    assert result.exit_code == 0, result.output
    assert read_jsonl(plain)[0]["sector"] is None
    assert read_jsonl(appeals)[0]["sector"] == "ЖКХ" and read_jsonl(appeals)[0]["needs_review"] is True
