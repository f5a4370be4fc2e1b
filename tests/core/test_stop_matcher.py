from hypothesis import given
from hypothesis import strategies as st

from hoshikage_core.kit.text import StopMatcher


def run(pieces: list[str], stops: list[str]) -> tuple[list[str], bool]:
    matcher = StopMatcher(stops)
    out: list[str] = []
    for piece in pieces:
        text, hit = matcher.feed(piece)
        out.append(text)
        if hit:
            return out, True
    out.append(matcher.flush())
    return out, False


def test_stop_split_across_pieces_is_never_emitted() -> None:
    out, hit = run(["Hello wo", "rl", "d! more"], ["world"])
    assert hit
    assert "".join(out) == "Hello "
    assert not any("wo" in piece for piece in out)


def test_partial_match_that_does_not_complete_is_released() -> None:
    out, hit = run(["ab", "c", "d"], ["abx"])
    assert not hit
    assert "".join(out) == "abcd"
    assert out[0] == ""  # "ab" was held back while it could still become "abx"


def test_earliest_stop_wins() -> None:
    out, hit = run(["one two three"], ["three", "two"])
    assert hit and "".join(out) == "one "


def test_no_stops_passes_through() -> None:
    assert run(["a", "b"], []) == (["a", "b", ""], False)


def test_feed_after_stop_returns_nothing() -> None:
    matcher = StopMatcher(["x"])
    assert matcher.feed("axb") == ("a", True)
    assert matcher.feed("more") == ("", True)


@given(
    text=st.text(alphabet="abc xy", max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
    stops=st.lists(st.text(alphabet="abcxy", min_size=1, max_size=4), max_size=4),
)
def test_any_split_cuts_right_before_a_stop(text: str, cuts: list[int], stops: list[str]) -> None:
    """However the text is split: a prefix of it, free of stops, cut right at one."""
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    pieces = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    out, hit = run(pieces, stops)
    emitted = "".join(out)
    assert text.startswith(emitted)
    assert not any(s in emitted for s in stops)
    if hit:
        assert any(text[len(emitted):].startswith(s) for s in stops)
    else:
        assert emitted == text


def test_stop_completed_first_wins_even_if_another_started_earlier() -> None:
    # "bc" is complete after "abc" while "abcd" is not: generation stops there.
    out, hit = run(["a", "b", "c", "d"], ["abcd", "bc"])
    assert hit and "".join(out) == "a"


def test_the_matched_stop_is_the_earliest_one_in_the_text() -> None:
    matcher = StopMatcher(["later", "soon"])
    assert matcher.feed("it ends soon, not later") == ("it ends ", True)
    assert matcher.matched == "soon"
    assert StopMatcher(["x"]).matched is None
