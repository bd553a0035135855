"""The SMS providers against their local fakes over real HTTP: what goes on the wire, what comes
back, and which failures are worth another try."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from kopilka.config import Settings
from kopilka.fakes import SmsRuFake, UniSenderFake
from kopilka.notify.sms import SmsMessage, SmsRu, SmsSendError, UniSenderSms, sms_channel

MESSAGE = SmsMessage(phone="+79123456789", text="Вам начислено 500 бонусов", key="k1")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_smsru_sends_the_documented_form(http: httpx.AsyncClient) -> None:
    with SmsRuFake(api_id="secret-id") as fake:
        channel = SmsRu(http, api_id="secret-id", url=fake.url, sender="Kopilka")
        sms_id = await channel.send(MESSAGE)
    assert [(m.phone, m.text, m.sender) for m in fake.messages] == [
        ("79123456789", "Вам начислено 500 бонусов", "Kopilka")
    ]
    assert sms_id == fake.messages[0].sms_id


@pytest.mark.parametrize(
    ("fault", "retryable"),
    [(220, True), (201, True), (500, True), (207, False), (204, False)],
)
async def test_smsru_errors_say_whether_to_retry(
    http: httpx.AsyncClient, fault: int, retryable: bool
) -> None:
    with SmsRuFake(api_id="secret-id") as fake:
        channel = SmsRu(http, api_id="secret-id", url=fake.url)
        fake.fail_next(1, error=fault)
        with pytest.raises(SmsSendError) as caught:
            await channel.send(MESSAGE)
        assert caught.value.retryable is retryable
        assert "secret-id" not in str(caught.value)
        assert fake.messages == []
        await channel.send(MESSAGE)  # the provider recovered
        assert len(fake.messages) == 1


async def test_smsru_wrong_api_id_and_bad_number_are_final(http: httpx.AsyncClient) -> None:
    with SmsRuFake(api_id="right") as fake:
        with pytest.raises(SmsSendError) as wrong:
            await SmsRu(http, api_id="s3cr3t-bad", url=fake.url).send(MESSAGE)
        assert not wrong.value.retryable
        assert "s3cr3t" not in str(wrong.value)
        with pytest.raises(SmsSendError) as bad:
            await SmsRu(http, api_id="right", url=fake.url).send(
                SmsMessage(phone="+12", text="x", key="k")
            )
        assert not bad.value.retryable
        with pytest.raises(SmsSendError) as not_e164:
            await SmsRu(http, api_id="right", url=fake.url).send(
                SmsMessage(phone="89123456789", text="x", key="k")
            )
        assert not not_e164.value.retryable
    assert fake.messages == []


async def test_a_stalled_provider_times_out_and_may_have_accepted(http: httpx.AsyncClient) -> None:
    with SmsRuFake() as fake:
        channel = SmsRu(http, api_id="test", url=fake.url, timeout=0.3)
        fake.stall_next(1, seconds=5)
        with pytest.raises(SmsSendError) as before:
            await channel.send(MESSAGE)
        assert before.value.retryable
        assert fake.messages == []
        fake.stall_next(1, seconds=5, accept=True)
        with pytest.raises(SmsSendError) as after:
            await channel.send(MESSAGE)
        assert after.value.retryable
        assert len(fake.messages) == 1  # taken, though the answer never came


async def test_unisender_sms(http: httpx.AsyncClient) -> None:
    with UniSenderFake(api_key="key") as fake:
        channel = UniSenderSms(http, api_key="key", sender="Kopilka", url=fake.url)
        sms_id = await channel.send(MESSAGE)
        assert [(m.phone, m.text, m.sender) for m in fake.messages] == [
            ("79123456789", MESSAGE.text, "Kopilka")
        ]
        assert sms_id == fake.messages[0].sms_id
        fake.fail_next(1)
        with pytest.raises(SmsSendError) as later:
            await channel.send(MESSAGE)
        assert later.value.retryable
        fake.fail_next(1, error=503)
        with pytest.raises(SmsSendError) as http_error:
            await channel.send(MESSAGE)
        assert http_error.value.retryable
        with pytest.raises(SmsSendError) as wrong_key:
            await UniSenderSms(http, api_key="nope", sender="Kopilka", url=fake.url).send(MESSAGE)
        assert not wrong_key.value.retryable
        assert "nope" not in str(wrong_key.value)
        with pytest.raises(SmsSendError) as bad_sender:
            await UniSenderSms(http, api_key="key", sender="-", url=fake.url).send(MESSAGE)
        assert not bad_sender.value.retryable
    assert len(fake.messages) == 1


def test_the_configured_provider_is_chosen() -> None:
    http = httpx.AsyncClient()
    assert sms_channel(Settings(), http) is None
    smsru = sms_channel(Settings(smsru_api_id=SecretStr("a")), http)
    assert smsru is not None
    assert smsru.name == "smsru"
    both = Settings(
        smsru_api_id=SecretStr("a"),
        unisender_api_key=SecretStr("b"),
        unisender_sms_sender="Shop",
    )
    chosen = sms_channel(both, http)
    assert chosen is not None
    assert chosen.name == "smsru"
    uni = sms_channel(both.model_copy(update={"sms_provider": "unisender"}), http)
    assert uni is not None
    assert uni.name == "unisender"
    assert sms_channel(both.model_copy(update={"sms_provider": "none"}), http) is None
    assert sms_channel(Settings(sms_provider="smsru"), http) is None  # chosen, not configured
    assert sms_channel(Settings(sms_provider="unisender"), http) is None
