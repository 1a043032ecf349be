"""schemathesis over the whole OpenAPI schema, with every role's key and with none.

For every operation, generated requests (valid and invalid, with ids sometimes swapped for real ones
so writes really happen) are sent as each caller. Checked on every answer: no 5xx; without a key only
401; a recipient never sees another recipient's incidents; and after the run every write is in the
audit trail (incident audit entries, acknowledgements, plan decisions) under a real caller's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.schemas import OpenApiSchema

from api.app import create_app
from index.models import IncidentStatus
from index.sqlite import SqliteStore
from index.store import AlertQuery, IncidentQuery
from tests.api.conftest import NOW, ROLE_KEYS, ROLES, Clock, build_profile, seed
from tests.factories import make_incident
from tests.fuzz.budget import fuzz
from tests.security.conftest import security_settings

CALLERS: tuple[str | None, ...] = (None, *ROLES)
#: Operations open without a key: the probe, and the signed acknowledgement link (its token is the key).
PUBLIC_SUFFIXES = ("/healthz", "/ack-link")


class World:
    """The app over a seeded store, its schema, and what each recipient must never see."""

    def __init__(self, tmp: Path) -> None:
        self.store = SqliteStore(tmp / "schema.sqlite3")
        self.seeded = seed(self.store)
        extra = [
            make_incident(title="Секрет дорожников", recipient="roads", status=IncidentStatus.assigned),
            make_incident(title="Секрет УК", recipient="uk-dom", status=IncidentStatus.new),
        ]
        for incident in extra:
            self.store.save_incident(incident)
        settings = security_settings(tmp, rate_limit_per_key="", rate_limit_per_ip="")
        self.app: FastAPI = create_app(settings, self.store, build_profile(), Clock(NOW))
        self.schema: OpenApiSchema = schemathesis.openapi.from_asgi(
            "/openapi.json", self.app, headers={"X-API-Key": ROLE_KEYS["admin"]}
        )
        incidents = self.store.query_incidents(IncidentQuery(limit=100)).items
        self.incident_ids = [i.id for i in incidents]
        self.versions = {i.id: i.version for i in incidents}
        self.hidden: dict[str, list[str]] = {
            r: [i.id for i in incidents if i.recipient != r]
            + [i.title for i in incidents if i.recipient != r]
            for r in ("uk-dom", "roads")
        }
        self.ids = {
            "incident_id": self.incident_ids,
            "alert_id": list(self.seeded.alerts.values()),
            "post_id": list(self.seeded.posts.values()),
            "page_id": ["vk-admin", "нет-такой"],
            "slot_id": ["нет-такого"],
        }
        self.actors = {self.app.state.ctx.keys.authenticate(key).actor for key in ROLE_KEYS.values()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    made = World(tmp_path_factory.mktemp("schema"))
    yield made
    made.store.close()


def _operations() -> list[str]:
    """Return the labels of every operation (the schema is the same for every world)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        probe = World(Path(tmp))
        labels = [op.ok().label for op in probe.schema.get_all_operations() if isinstance(op, Ok)]
        probe.store.close()
    return labels


OPERATIONS = _operations()


def test_the_schema_covers_every_public_route() -> None:
    assert len(OPERATIONS) >= 20
    assert "POST /incidents/{incident_id}/transition" in OPERATIONS


def _check_answer(world: World, caller: str | None, label: str, status: int, text: str) -> None:
    assert status < 500, f"{caller} {label}: {status} {text[:300]}"
    if caller is None and not label.endswith(PUBLIC_SUFFIXES):
        assert status == 401, f"{label} without a key: {status}"
    if caller is not None and caller.startswith("recipient:") and status < 300:
        recipient = caller.split(":", 1)[1]
        leaked = [secret for secret in world.hidden[recipient] if secret in text]
        assert not leaked, f"{caller} {label} sees another recipient's incidents: {leaked}"


@pytest.mark.parametrize("label", OPERATIONS)
@given(data=st.data())
@fuzz(6)
def test_operation_as_every_caller(world: World, label: str, data: st.DataObject) -> None:
    operation = world.schema.find_operation_by_label(label)
    assert operation is not None
    case = data.draw(operation.as_strategy())
    for name, value in list((case.path_parameters or {}).items()):
        real = world.ids.get(name)
        if real and data.draw(st.booleans()):
            case.path_parameters[name] = data.draw(st.sampled_from(real))
        elif not isinstance(value, str):
            continue
    if label.endswith("/file") and isinstance(case.query, dict):
        case.query["format"] = "md"  # DOCX charts and PDF are slow; their rights are tested elsewhere
    for caller in CALLERS:
        headers: dict[str, Any] = {"X-API-Key": ROLE_KEYS[caller]} if caller else {}
        response = case.call(headers=headers)
        _check_answer(world, caller, label, response.status_code, response.content.decode("utf-8", "replace"))


def test_every_write_is_audited(world: World) -> None:
    """Run after the operations above (same module world): every change names a real caller."""
    for incident in world.store.query_incidents(IncidentQuery(limit=100)).items:
        writes = incident.version - world.versions.get(incident.id, 1)
        mine = [e for e in incident.audit if e.actor in world.actors]
        assert len(mine) >= writes, f"{incident.id}: {writes} writes, {len(mine)} audit entries"
        assert all(e.actor for e in incident.audit)
    for alert in world.store.query_alerts(AlertQuery(limit=100)).items:
        if alert.acknowledged_at is not None and alert.id != world.seeded.alerts["old"]:
            assert alert.acknowledged_by in world.actors
    for decision in world.store.list_plan_decisions("2024-03-11"):
        assert decision.by in world.actors
