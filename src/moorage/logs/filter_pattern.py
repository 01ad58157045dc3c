"""CloudWatch Logs filter patterns for unstructured events: terms, phrases, ?any, -none.

The term syntax of CloudWatch's filter patterns, case-sensitive as on AWS:

- ``ERROR Exception``: every term appears in the message (AND);
- ``"Internal Server Error"``: a quoted phrase appears as written (quote a
  term holding spaces or punctuation; ``\\"`` and ``\\\\`` escape inside quotes);
- ``?ERROR ?WARN``: at least one ``?`` term appears (OR);
- ``ERROR -Exiting``: no ``-`` term appears (NOT);
- an empty pattern, or a quoted blank (``" "``), matches every event.

Terms combine: an event matches when it holds every plain term, none of
the ``-`` terms and, if there are ``?`` terms, at least one of them. A term
matches anywhere in the message (``ERROR`` matches ``[ERROR]``). JSON
patterns (``{ $.level = ... }``), space-delimited patterns (``[ip, ...]``) and
regular expressions (``%...%``) are refused with ``InvalidParameterException``
rather than matched wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.logs.errors import InvalidParameter

MAX_TERMS = 100


@dataclass(frozen=True)
class FilterPattern:
    """A parsed term pattern; :meth:`matches` tests one message (UTF-8 bytes)."""

    required: tuple[bytes, ...] = ()
    excluded: tuple[bytes, ...] = ()
    any_of: tuple[bytes, ...] = ()
    everything: bool = False

    def matches(self, message: bytes) -> bool:
        if self.everything:
            return True
        if any(term not in message for term in self.required):
            return False
        if any(term in message for term in self.excluded):
            return False
        return not self.any_of or any(term in message for term in self.any_of)


MATCH_ALL = FilterPattern(everything=True)


def _unsupported(kind: str) -> InvalidParameter:
    return InvalidParameter(
        f"Invalid filter pattern: {kind} are not supported by moorage; use terms, "
        '"quoted phrases", ?term (any of) and -term (none of).'
    )


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The phrase of the quote opening at ``text[start]`` and the index past its end."""
    out: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in '"\\':
            out.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(out), index + 1
        out.append(char)
        index += 1
    raise InvalidParameter("Invalid filter pattern: a quoted phrase is not closed.")


def parse(pattern: str | None) -> FilterPattern:
    """The pattern ``pattern`` denotes; :class:`InvalidParameter` if it cannot be used."""
    text = (pattern or "").strip()
    if not text:
        return MATCH_ALL
    if text.startswith("{"):
        raise _unsupported("JSON filter patterns ({ $.field = value })")
    if text.startswith("["):
        raise _unsupported("space-delimited filter patterns ([field, ...])")
    required: list[bytes] = []
    excluded: list[bytes] = []
    any_of: list[bytes] = []
    everything = False
    index = 0
    terms = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        kind = ""
        if text[index] in "?-":
            kind = text[index]
            index += 1
        if index < len(text) and text[index] == '"':
            term, index = _quoted(text, index)
            if not term.strip():
                if kind:
                    raise InvalidParameter(
                        f"Invalid filter pattern: {kind} must be followed by a term."
                    )
                everything = True
                continue
        else:
            end = index
            while end < len(text) and not text[end].isspace():
                end += 1
            term, index = text[index:end], end
            if not term:
                raise InvalidParameter(
                    f"Invalid filter pattern: {kind} must be followed by a term."
                )
            if len(term) >= 2 and term.startswith("%") and term.endswith("%"):
                raise _unsupported("regular expressions (%...%)")
        terms += 1
        if terms > MAX_TERMS:
            raise InvalidParameter(f"Invalid filter pattern: more than {MAX_TERMS} terms.")
        encoded = term.encode("utf-8", "surrogatepass")
        {"": required, "-": excluded, "?": any_of}[kind].append(encoded)
    if everything and not (required or excluded or any_of):
        return MATCH_ALL
    return FilterPattern(tuple(required), tuple(excluded), tuple(any_of))
