"""The one retrying wrapper for calls Contain makes outside the Graph SDK (the Exchange client).

Graph calls are retried by kiota's RetryHandler (429/503/504, Retry-After honoured); this module
gives the Exchange client the same behaviour so both services throttle alike: bounded attempts,
Retry-After first, otherwise a short exponential backoff with jitter.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from services.tenant.errors import RETRYABLE_STATUSES


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3
    base_delay_s: float = 0.5
    # A Retry-After longer than this is not waited for: the caller gets the error now, because a
    # responder watching a card should not stare at a spinner for minutes.
    max_delay_s: float = 120.0


@dataclass(frozen=True, slots=True)
class Attempted:
    """The final response and how many retries it took to get it."""

    response: httpx.Response
    retries: int


def retry_after_seconds(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff_seconds(retry: int, policy: RetryPolicy) -> float:
    return policy.base_delay_s * (2.0 ** retry) + random.uniform(0, policy.base_delay_s)


async def send_with_retry(send: Callable[[], Awaitable[httpx.Response]], *, policy: RetryPolicy,
                          idempotent: bool = True,
                          sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Attempted:
    """Call `send` until it answers something other than 429/503/504, at most 1 + max_retries times.

    Transport errors: a refused connection is retried (nothing was sent); a timeout only when the
    call is idempotent, since a write may have landed. The last error or response is returned or
    raised unchanged; the caller words it (services.tenant.errors)."""
    retries = 0
    while True:
        try:
            response = await send()
        except httpx.ConnectError:
            if retries >= policy.max_retries:
                raise
            await sleep(backoff_seconds(retries, policy))
            retries += 1
            continue
        except httpx.TimeoutException:
            if not idempotent or retries >= policy.max_retries:
                raise
            await sleep(backoff_seconds(retries, policy))
            retries += 1
            continue
        if response.status_code not in RETRYABLE_STATUSES or retries >= policy.max_retries:
            return Attempted(response=response, retries=retries)
        delay = retry_after_seconds(response)
        if delay is None:
            delay = backoff_seconds(retries, policy)
        if delay > policy.max_delay_s:
            return Attempted(response=response, retries=retries)
        await response.aclose()
        await sleep(delay)
        retries += 1
