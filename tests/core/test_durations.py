import math

import pytest

from hoshikage_core.config.durations import FOREVER, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("30s", 30), ("1h30m", 5400), ("250ms", 0.25), ("1d", 86400),
     (0, 0), ("0", 0), (90, 90), (1.5, 1.5), ("2.5s", 2.5), (" 10S ", 10)],
)
def test_parses(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("forever", [-1, "-1", -1.0])
def test_minus_one_is_forever(forever: object) -> None:
    assert parse_duration(forever) == FOREVER == math.inf


@pytest.mark.parametrize("bad", ["", "5x", "m5", "-5m", -2, "5m 3s", True, None, [1], "1h-3m"])
def test_rejects_with_expectation(bad: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(bad)


def test_format_round_trips() -> None:
    for text in ["5m", "1h30m", "30s", "250ms"]:
        assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)
    assert format_duration(FOREVER) == "forever"
    assert format_duration(0) == "0s"
