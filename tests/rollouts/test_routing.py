"""Routing during a rollout: sticky keys, weighted random, monotone steps, where a key's value comes from."""

from __future__ import annotations

import copy
import itertools
import json
import pickle
import random

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidInput
from shipyard.rollouts.plan import RoutingKey
from shipyard.rollouts.routing import Split, choose_arm, key_value

KEYS = [f"customer-{number}" for number in range(100_000)]


def split(share: float, rollout_id: str = "r1", key: str | None = "header:X-Customer-Id") -> Split:
    return Split(rollout_id, 3, 4, share, key=None if key is None else RoutingKey.parse(key))


def canary_keys(routing: Split, keys: list[str] = KEYS) -> set[str]:
    return {key for key in keys if choose_arm(routing, key, 0.0) == "canary"}


def test_a_key_goes_to_the_same_arm_on_every_request_of_a_rollout() -> None:
    routing = split(0.5)
    rng = random.Random(7)
    for key in KEYS[:2_000]:
        arms = {choose_arm(routing, key, rng.random()) for _ in range(5)}
        assert len(arms) == 1, key
    # A split read back from the database (a new object, in another worker) routes the same way.
    again = Split.from_dict(json.loads(json.dumps(routing.to_dict())))
    assert canary_keys(routing, KEYS[:5_000]) == canary_keys(again, KEYS[:5_000])


def test_different_rollouts_shuffle_keys_independently() -> None:
    first, second = canary_keys(split(0.5, "r1")), canary_keys(split(0.5, "r2"))
    both = len(first & second) / len(KEYS)
    # Independent halves overlap on a quarter of the keys; the same shuffle would overlap on a half.
    assert both == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("share", [0.05, 0.25, 0.5])
def test_the_observed_share_of_keys_is_within_one_percent_of_the_candidate_share(share: float) -> None:
    observed = len(canary_keys(split(share))) / len(KEYS)
    assert observed == pytest.approx(share, abs=0.01)


@pytest.mark.parametrize("share", [0.05, 0.25, 0.5])
def test_without_a_key_the_draw_decides_by_the_share(share: float) -> None:
    rng = random.Random(11)
    routing = split(share, key=None)
    arms = [choose_arm(routing, None, rng.random()) for _ in range(100_000)]
    assert arms.count("canary") / len(arms) == pytest.approx(share, abs=0.01)
    assert choose_arm(routing, None, share - 1e-9) == "canary"
    assert choose_arm(routing, None, share) == "stable"


def test_share_zero_never_and_share_one_always_routes_to_canary() -> None:
    nothing, everything = split(0.0), split(1.0)
    assert canary_keys(nothing) == set()
    assert canary_keys(everything) == set(KEYS)
    for draw in (0.0, 0.5, 0.999999999):
        assert choose_arm(nothing, None, draw) == "stable"
        assert choose_arm(everything, None, draw) == "canary"


def test_raising_the_share_only_moves_keys_from_stable_to_canary() -> None:
    steps = [canary_keys(split(share)) for share in (0.05, 0.25, 0.5, 1.0)]
    for earlier, later in itertools.pairwise(steps):
        assert earlier <= later
        assert len(later) > len(earlier)


def test_a_key_routes_the_same_whatever_the_draw() -> None:
    routing = split(0.25)
    for key in KEYS[:500]:
        assert choose_arm(routing, key, 0.0) == choose_arm(routing, key, 0.999)


def test_a_split_round_trips_through_json_pickle_and_copy() -> None:
    routing = split(0.25)
    data = routing.to_dict()
    assert data == {
        "rollout_id": "r1",
        "stable": 3,
        "candidate": 4,
        "candidate_share": 0.25,
        "shadow": False,
        "key": "header:X-Customer-Id",
    }
    assert Split.from_dict(json.loads(json.dumps(data))) == routing
    for clone in (pickle.loads(pickle.dumps(routing)), copy.deepcopy(routing)):
        assert clone == routing
        assert canary_keys(clone, KEYS[:2_000]) == canary_keys(routing, KEYS[:2_000])
    shadow = Split(9, 3, 4, 0.0, shadow=True)  # the store's ids are integers
    assert Split.from_dict(shadow.to_dict()) == shadow
    assert shadow.to_dict()["key"] is None


def test_a_split_names_the_version_of_each_arm() -> None:
    routing = split(0.5)
    assert (routing.version("stable"), routing.version("canary"), routing.version("shadow")) == (3, 4, 4)


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan"), "half", True])
def test_a_share_outside_zero_to_one_is_refused(share: object) -> None:
    with pytest.raises(InvalidInput, match="candidate_share"):
        Split("r1", 3, 4, share)  # type: ignore[arg-type]


def test_a_split_between_a_version_and_itself_is_refused() -> None:
    with pytest.raises(InvalidInput, match="version 3, which is the stable version too"):
        Split("r1", 3, 3, 0.5)


def test_a_split_dict_with_unknown_or_missing_keys_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown: weight"):
        Split.from_dict({**split(0.5).to_dict(), "weight": 2})
    with pytest.raises(InvalidInput, match="missing: candidate_share"):
        Split.from_dict({"rollout_id": "r1", "stable": 3, "candidate": 4})


# Where a key's value comes from.


def test_a_header_key_reads_the_header_whatever_its_case() -> None:
    key = RoutingKey.parse("header:X-Customer-Id")
    assert key_value(key, {"X-Customer-Id": "c-1"}) == "c-1"
    assert key_value(key, {"x-customer-id": "c-2"}) == "c-2"  # as ASGI servers give them
    assert key_value(key, {"X-CUSTOMER-ID": "c-3"}) == "c-3"


def test_a_missing_or_empty_header_gives_no_value_and_weighted_random_routing() -> None:
    key = RoutingKey.parse("header:X-Customer-Id")
    assert key_value(key, {"X-Other": "c-1"}) is None
    assert key_value(key, {"X-Customer-Id": ""}) is None
    assert key_value(key, None) is None
    routing = split(0.5)
    rng = random.Random(3)
    arms = {choose_arm(routing, key_value(key, {}), rng.random()) for _ in range(200)}
    assert arms == {"stable", "canary"}


def test_a_column_key_reads_the_first_row_so_a_request_goes_to_one_arm() -> None:
    key = RoutingKey.parse("column:customer_id")
    frame = pd.DataFrame({"customer_id": ["c-7", "c-8", "c-9"], "amount": [1.0, 2.0, 3.0]})
    assert key_value(key, {}, frame) == "c-7"
    assert key_value(key, {"X-Customer-Id": "ignored"}, frame) == "c-7"


def test_a_missing_column_an_empty_frame_or_a_null_gives_no_value() -> None:
    key = RoutingKey.parse("column:customer_id")
    assert key_value(key, {}, pd.DataFrame({"amount": [1.0]})) is None
    assert key_value(key, {}, pd.DataFrame({"customer_id": pd.Series([], dtype=object)})) is None
    assert key_value(key, {}, None) is None
    for null in (None, np.nan, pd.NA):
        frame = pd.DataFrame({"customer_id": pd.Series([null, "c-1"], dtype=object)})
        assert key_value(key, {}, frame) is None


def test_a_whole_number_routes_the_same_as_integer_or_float() -> None:
    key = RoutingKey.parse("column:customer_id")
    as_int = key_value(key, {}, pd.DataFrame({"customer_id": [1234]}))
    as_float = key_value(key, {}, pd.DataFrame({"customer_id": [1234.0]}))
    assert as_int == as_float == "1234"
    assert key_value(key, {}, pd.DataFrame({"customer_id": [12.5]})) == "12.5"
    assert key_value(key, {}, pd.DataFrame({"customer_id": [True]})) == "True"


def test_no_routing_key_gives_no_value() -> None:
    assert key_value(None, {"X-Customer-Id": "c-1"}, pd.DataFrame({"customer_id": ["c-1"]})) is None


def test_a_value_that_is_not_valid_unicode_still_routes() -> None:
    routing = split(0.5)
    assert choose_arm(routing, "bad \udcff value", 0.0) in ("stable", "canary")
