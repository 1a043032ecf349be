"""Map store errors and validation errors to HTTP answers with Russian messages."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from index.store import NotFound, StoreError, StoreUnavailable, VersionConflict

log = logging.getLogger(__name__)

STORE_UNAVAILABLE_MESSAGE = "хранилище данных недоступно, повторите попытку позже"
NOT_FOUND_MESSAGE = "объект не найден"
CONFLICT_MESSAGE = "данные изменены другим пользователем, обновите страницу"
STORE_ERROR_MESSAGE = "ошибка хранилища данных"
VALIDATION_MESSAGE = "неверные параметры запроса"


def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": STORE_UNAVAILABLE_MESSAGE},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": NOT_FOUND_MESSAGE}, status_code=status.HTTP_404_NOT_FOUND)


def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": CONFLICT_MESSAGE}, status_code=status.HTTP_409_CONFLICT)


def _store_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("store error on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": STORE_ERROR_MESSAGE}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)


def _validation(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(
        {"detail": jsonable_encoder(errors), "message": VALIDATION_MESSAGE},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the store and validation error handlers on `app`."""
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(VersionConflict, _conflict)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(RequestValidationError, _validation)
