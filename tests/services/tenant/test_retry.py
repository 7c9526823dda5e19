"""The retrying wrapper and the error sentences, without a network: a scripted `send` and a
recording `sleep`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from services.tenant.errors import PermissionDenied, build_error
from services.tenant.retry import RetryPolicy, send_with_retry


def scripted(*responses: httpx.Response | Exception) -> tuple[Callable[[], Awaitable[httpx.Response]], list[int]]:
    calls: list[int] = []
    queue = list(responses)

    async def send() -> httpx.Response:
        calls.append(1)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return send, calls


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def test_429_with_retry_after_is_waited_then_succeeds() -> None:
    send, calls = scripted(httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json={}))
    sleeps = Sleeps()
    attempted = await send_with_retry(send, policy=RetryPolicy(), sleep=sleeps)
    assert attempted.response.status_code == 200
    assert attempted.retries == 1
    assert sleeps == [2.0]
    assert len(calls) == 2


async def test_retries_are_bounded_and_the_last_answer_is_returned() -> None:
    send, calls = scripted(*[httpx.Response(503) for _ in range(10)])
    sleeps = Sleeps()
    attempted = await send_with_retry(send, policy=RetryPolicy(max_retries=3, base_delay_s=0.1), sleep=sleeps)
    assert attempted.response.status_code == 503
    assert attempted.retries == 3
    assert len(calls) == 4
    assert all(0.1 <= s < 2.0 for s in sleeps)


async def test_a_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    send, calls = scripted(httpx.Response(429, headers={"Retry-After": "3600"}), httpx.Response(200))
    sleeps = Sleeps()
    attempted = await send_with_retry(send, policy=RetryPolicy(max_delay_s=60), sleep=sleeps)
    assert attempted.response.status_code == 429
    assert sleeps == []
    assert len(calls) == 1


async def test_a_timed_out_write_is_not_sent_twice() -> None:
    send, calls = scripted(httpx.ReadTimeout("slow"), httpx.Response(200))
    with pytest.raises(httpx.ReadTimeout):
        await send_with_retry(send, policy=RetryPolicy(), idempotent=False, sleep=Sleeps())
    assert len(calls) == 1


async def test_a_timed_out_read_is_retried() -> None:
    send, calls = scripted(httpx.ReadTimeout("slow"), httpx.Response(200))
    attempted = await send_with_retry(send, policy=RetryPolicy(), idempotent=True, sleep=Sleeps())
    assert attempted.response.status_code == 200
    assert len(calls) == 2


def test_exhausted_retries_read_as_one_sentence() -> None:
    err = build_error(service="Exchange Online", operation="Get-Mailbox", status=429, code=None, message=None,
                      request_id="r-1", retries=3)
    assert err.sentence == ("Exchange Online kept answering 429 Too Many Requests to Get-Mailbox after 3 retries "
                            "(request id r-1).")


def test_403_names_the_permission() -> None:
    err = build_error(service="Microsoft Graph", operation="GET /identityProtection/riskyUsers/{id}", status=403,
                      code="Authorization_RequestDenied", message="Insufficient privileges to complete the operation.",
                      request_id="r-2", permission="IdentityRiskyUser.Read.All")
    assert isinstance(err, PermissionDenied)
    assert err.sentence == ("Microsoft Graph refused GET /identityProtection/riskyUsers/{id}: Insufficient privileges "
                            "to complete the operation; the app needs IdentityRiskyUser.Read.All (request id r-2).")
