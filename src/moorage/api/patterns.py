"""Translate the Java regular expressions in botocore's models for Python.

AWS services check ``pattern`` constraints with Java's ``Pattern.matches``
(a full match). The ``regex`` module understands ``\\p{L}``-style classes;
what it does not is Java's UTF-16 surrogate-pair ranges, which are rewritten
to the code-point range they denote. A pattern that still cannot be compiled
is skipped (and counted by a unit test, which expects none).
"""

from __future__ import annotations

import functools
from typing import Any

import regex

# Java writes "any supplementary code point" as a surrogate range.
_SURROGATE_RANGE = "\\uD800\\uDC00-\\uDBFF\\uDFFF"
_SUPPLEMENTARY = "\\U00010000-\\U0010FFFF"


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any | None:
    """A compiled pattern, or None if it cannot be expressed."""
    translated = pattern.replace(_SURROGATE_RANGE, _SUPPLEMENTARY)
    try:
        return regex.compile(translated, regex.V0)
    except regex.error:
        return None


def matches(pattern: str, value: str) -> bool:
    compiled = compile_pattern(pattern)
    if compiled is None:
        return True
    return compiled.fullmatch(value) is not None
