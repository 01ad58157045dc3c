"""The filter-pattern matcher: CloudWatch's term syntax for unstructured events."""

from __future__ import annotations

import pytest

from moorage.logs.errors import InvalidParameter
from moorage.logs.filter_pattern import MATCH_ALL, parse

EVENTS = [
    b"[ERROR 400] BAD REQUEST",
    b"[ERROR 401] UNAUTHORIZED REQUEST",
    b"[WARN] retrying after a timeout",
    b"[INFO] Internal Server Error handled",
    b"[ERROR] Exiting: worker died",
    b"plain line",
]


def matching(pattern: str) -> list[bytes]:
    parsed = parse(pattern)
    return [event for event in EVENTS if parsed.matches(event)]


@pytest.mark.parametrize("pattern", ["", "   ", '" "', '""'])
def test_empty_patterns_and_a_quoted_blank_match_everything(pattern: str) -> None:
    assert parse(pattern) == MATCH_ALL
    assert matching(pattern) == EVENTS


def test_one_term_matches_anywhere_in_the_message_case_sensitively() -> None:
    assert matching("ERROR") == [EVENTS[0], EVENTS[1], EVENTS[4]]
    assert matching("error") == []
    assert matching("REQ") == [EVENTS[0], EVENTS[1]]


def test_several_terms_must_all_appear() -> None:
    assert matching("ERROR REQUEST") == [EVENTS[0], EVENTS[1]]
    assert matching("ERROR UNAUTHORIZED") == [EVENTS[1]]
    assert matching("ERROR WARN") == []


def test_question_marked_terms_match_any() -> None:
    assert matching("?WARN ?INFO") == [EVENTS[2], EVENTS[3]]
    assert matching('?"BAD REQUEST" ?plain') == [EVENTS[0], EVENTS[5]]


def test_minus_terms_exclude() -> None:
    assert matching("ERROR -Exiting") == [EVENTS[0], EVENTS[1]]
    assert matching("-ERROR") == [EVENTS[2], EVENTS[3], EVENTS[5]]
    assert matching('ERROR -"BAD REQUEST" -Exiting') == [EVENTS[1]]


def test_a_quoted_phrase_matches_as_written() -> None:
    assert matching('"Internal Server Error"') == [EVENTS[3]]
    assert matching('"Server  Error"') == []
    assert matching('"[ERROR 401]"') == [EVENTS[1]]


def test_all_kinds_combine() -> None:
    # Every plain term, none of the - terms, one of the ? terms.
    assert matching("REQUEST ?400 ?401 -UNAUTHORIZED") == [EVENTS[0]]


def test_escapes_inside_quotes() -> None:
    parsed = parse(r'"say \"hi\" \\ bye"')
    assert parsed.matches(b'they say "hi" \\ bye now')
    assert not parsed.matches(b"they say hi bye")


def test_non_ascii_terms_match_utf8_messages() -> None:
    assert parse("café").matches("un café noir".encode())


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ('{ $.level = "ERROR" }', "JSON filter patterns"),
        ("[ip, user, status=404]", "space-delimited filter patterns"),
        ("%ERR[0-9]+%", "regular expressions"),
        ('"unterminated', "not closed"),
        ("ERROR -", "must be followed by a term"),
        ("? x", "must be followed by a term"),
        ('-""', "must be followed by a term"),
    ],
)
def test_unsupported_or_malformed_patterns_are_invalid_parameters(pattern: str, says: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse(pattern)
    assert caught.value.code == "InvalidParameterException"
    assert says in caught.value.message


def test_too_many_terms_are_refused() -> None:
    with pytest.raises(InvalidParameter):
        parse(" ".join(f"t{i}" for i in range(101)))
    assert parse(" ".join(f"t{i}" for i in range(100))).matches(
        " ".join(f"t{i}" for i in range(100)).encode()
    )
