"""Turn a report into a downloadable file: DOCX, Markdown, PDF (through LibreOffice when installed), JSON."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from risk.report_docx import render_docx
from risk.report_md import render_markdown
from risk.reports import Report

ReportFormat = Literal["docx", "md", "pdf", "json"]
#: Seconds LibreOffice may take to convert one document.
PDF_TIMEOUT_S = 120
MEDIA_TYPES: dict[str, str] = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
}


class PdfUnavailable(RuntimeError):
    """PDF cannot be made here (message in Russian)."""


@dataclass(frozen=True)
class ReportFile:
    """A rendered report."""

    content: bytes
    media_type: str
    filename: str


def soffice_path() -> str | None:
    """Return the LibreOffice executable, or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def docx_to_pdf(docx: bytes, timeout_s: float = PDF_TIMEOUT_S) -> bytes:
    """Convert DOCX bytes to PDF with LibreOffice; raise PdfUnavailable when it is missing or fails."""
    soffice = soffice_path()
    if soffice is None:
        raise PdfUnavailable("PDF недоступен: LibreOffice (soffice) не установлен; скачайте DOCX")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "report.docx"
        source.write_bytes(docx)
        try:
            subprocess.run(
                [
                    soffice,
                    "--headless",
                    f"-env:UserInstallation=file://{folder / 'profile'}",
                    "--convert-to",
                    "pdf",
                    "--outdir",
                    str(folder),
                    str(source),
                ],
                check=True,
                capture_output=True,
                timeout=timeout_s,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            raise PdfUnavailable(f"PDF не получился: LibreOffice завершился с ошибкой ({exc})") from exc
        target = folder / "report.pdf"
        if not target.exists():
            raise PdfUnavailable("PDF не получился: LibreOffice не создал файл")
        return target.read_bytes()


def file_name(report: Report, fmt: str) -> str:
    """Return a file name such as «weekly-2026-11-02.docx»."""
    return f"{report.kind}-{report.since.date().isoformat()}.{fmt}"


def render_report(report: Report, fmt: ReportFormat) -> ReportFile:
    """Return the report in `fmt`; raise PdfUnavailable for PDF without LibreOffice."""
    content: bytes
    if fmt == "docx":
        content = render_docx(report)
    elif fmt == "md":
        content = render_markdown(report).encode("utf-8")
    elif fmt == "pdf":
        content = docx_to_pdf(render_docx(report))
    else:
        content = report.model_dump_json(indent=1).encode("utf-8")
    return ReportFile(content, MEDIA_TYPES[fmt], file_name(report, fmt))
