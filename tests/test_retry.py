"""Retry-After parsing and backoff delays (model/retry.py), per craft.md B.3 and protocol.md §f."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from agent.model.retry import MAX_BACKOFF, backoff_delay, retry_after

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("headers", "want"),
    [
        pytest.param({"retry-after-ms": "1500"}, 1.5, id="ms"),
        pytest.param({"retry-after-ms": "250.5"}, 0.2505, id="ms-float"),
        pytest.param({"retry-after-ms": "100", "retry-after": "4"}, 0.1, id="ms-wins-over-seconds"),
        pytest.param({"retry-after-ms": "soon", "retry-after": "4"}, 4.0, id="bad-ms-falls-back"),
        pytest.param({"retry-after": "3"}, 3.0, id="integer-seconds"),
        pytest.param({"retry-after": "2.5"}, 2.5, id="float-seconds"),
        pytest.param({"retry-after": "0"}, 0.0, id="zero"),
        pytest.param({"Retry-After": "Thu, 01 Jan 2026 12:00:30 GMT"}, 30.0, id="http-date-future"),
        pytest.param({"Retry-After": "Thu, 01 Jan 2026 11:00:00 GMT"}, 0.0, id="http-date-past"),
        pytest.param({"Retry-After": "Thursday, 01-Jan-26 12:00:30 GMT"}, 30.0, id="rfc850-date"),
    ],
)
def test_retry_after_values(headers, want):
    assert retry_after(headers, now=NOW) == pytest.approx(want)


@pytest.mark.parametrize("name", ["retry-after", "Retry-After", "RETRY-AFTER", "rEtRy-AfTeR"])
def test_retry_after_header_name_is_case_insensitive(name):
    assert retry_after({name: "7"}, now=NOW) == 7.0


@pytest.mark.parametrize("name", ["retry-after-ms", "Retry-After-Ms", "RETRY-AFTER-MS"])
def test_retry_after_ms_header_name_is_case_insensitive(name):
    assert retry_after({name: "2000"}, now=NOW) == 2.0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="absent"),
        pytest.param({"content-type": "application/json"}, id="other-headers-only"),
        pytest.param({"retry-after": "soon"}, id="garbage"),
        pytest.param({"retry-after": ""}, id="empty"),
        pytest.param({"retry-after": "-1"}, id="negative"),
        pytest.param({"retry-after": "nan"}, id="nan"),
        pytest.param({"retry-after": "NaN"}, id="NaN"),
        pytest.param({"retry-after": "inf"}, id="inf"),
        pytest.param({"retry-after": "-inf"}, id="minus-inf"),
        pytest.param({"retry-after-ms": "-5"}, id="negative-ms"),
        pytest.param({"retry-after-ms": "nan"}, id="nan-ms"),
        pytest.param({"retry-after-ms": "inf"}, id="inf-ms"),
        # openai-python's case: an impossible date must not raise and hide the 429.
        pytest.param({"retry-after": "Fri, 01 Jan 100000 00:00:00 GMT"}, id="year-100000"),
    ],
)
def test_retry_after_unusable_values_are_none(headers):
    assert retry_after(headers, now=NOW) is None


def test_backoff_grows_then_caps_at_eight_seconds():
    # With jitter factor 1 (random() == 0) the delays are the ceilings themselves.
    class NoJitter(random.Random):
        def random(self) -> float:
            return 0.0

    ceilings = [backoff_delay(attempt, rng=NoJitter()) for attempt in range(1, 9)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert MAX_BACKOFF == 8.0


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("attempt", [*range(1, 12), 64, 1024])
def test_backoff_jitter_stays_within_three_quarters_of_the_ceiling(seed, attempt):
    ceiling = min(8.0, 0.5 * 2.0 ** min(attempt - 1, 10))
    delay = backoff_delay(attempt, rng=random.Random(seed))
    assert 0.75 * ceiling <= delay <= ceiling <= 8.0


def test_backoff_for_a_huge_attempt_number_is_still_capped():
    assert 6.0 <= backoff_delay(1025, rng=random.Random(0)) <= 8.0


def test_backoff_is_reproducible_with_a_seeded_rng():
    first = [backoff_delay(a, rng=random.Random(42)) for a in range(1, 6)]
    second = [backoff_delay(a, rng=random.Random(42)) for a in range(1, 6)]
    assert first == second


def test_backoff_jitter_actually_varies():
    rng = random.Random(7)
    delays = {backoff_delay(4, rng=rng) for _ in range(20)}
    assert len(delays) > 1
