"""The OK client: request signing as documented, and error codes against the loopback server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crawlers.base import CredentialsError, TransientSourceError
from crawlers.ok.client import OkClient, session_secret, sign
from crawlers.ok.errors import OkObjectError
from tests.crawlers.ok.fake_ok import GROUP, TOKEN, OkWorld, ok_error


def test_signature_follows_the_documented_algorithm() -> None:
    # The worked example of the server-server scheme (aiookru docs, apiok.ru "Расчет подписи запроса").
    secret = session_secret("-s-84W-s3egarWUsbkq-IWTucuedzTKT8VUXIA.s4Xx8IW7", "ABC123DEF456GHI789JKL123")
    assert secret == "b1a2b89707a94624c43afae67d59274c"
    params = {"application_key": "ABCDEFGHIGKLMNOPK", "format": "json", "method": "events.get"}
    assert (
        sign({**params, "access_token": "ignored", "sig": "ignored"}, secret)
        == "232c8eb921951c4dba9b72606f9ddb4c"
    )


def test_signed_request_is_accepted(make_ok_client: Callable[..., OkClient], ok_world: OkWorld) -> None:
    answer = make_ok_client().call("group.getInfo", {"uids": GROUP, "fields": "uid,name"})
    assert answer["groups"][0]["uid"] == GROUP
    sent = ok_world.calls("group.getInfo")[0]
    assert sent["access_token"] == TOKEN and len(sent["sig"]) == 32 and sent["format"] == "json"


def test_wrong_signature_is_rejected_with_104(
    make_ok_client: Callable[..., OkClient], ok_world: OkWorld
) -> None:
    client = make_ok_client(app_secret="not-the-application-secret")
    with pytest.raises(CredentialsError, match="104 PARAM_SIGNATURE"):
        client.call("group.getInfo", {"uids": GROUP, "fields": "uid"})
    assert len(ok_world.calls("group.getInfo")) == 1  # not retried


def test_tampered_parameter_breaks_the_signature(
    make_ok_client: Callable[..., OkClient], ok_server: object
) -> None:
    client = make_ok_client()
    form = client.signed_params("group.getInfo", {"uids": GROUP, "fields": "uid"})
    form["uids"] = "1"
    import httpx

    answer = httpx.post(ok_server.url, data=form).json()  # type: ignore[attr-defined]
    assert answer["error_code"] == 104


def test_expired_session_is_a_credentials_error(
    make_ok_client: Callable[..., OkClient], ok_world: OkWorld
) -> None:
    ok_world.expired.add(TOKEN)
    with pytest.raises(CredentialsError, match="OK__SESSION_KEY"):
        make_ok_client().call("group.getInfo", {"uids": GROUP, "fields": "uid"})


def test_limit_is_transient_and_not_found_is_skipped(
    make_ok_client: Callable[..., OkClient], ok_world: OkWorld
) -> None:
    ok_world.fail["mediatopic.getTopics"] = [ok_error(11, "LIMIT_REACHED : Limit reached")]
    client = make_ok_client()
    with pytest.raises(TransientSourceError) as caught:
        client.call("mediatopic.getTopics", {"gid": GROUP})
    assert caught.value.retry_after_s == 3600.0
    with pytest.raises(OkObjectError) as skipped:
        client.call("discussions.getComments", {"discussionId": "nope", "discussionType": "GROUP_TOPIC"})
    assert skipped.value.kind == "ok/300"
