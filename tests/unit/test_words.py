"""The message catalogue: every sentence in both languages, taking the same values."""

from __future__ import annotations

import string

from simulate.words import EN, ZH


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_is_in_both_languages() -> None:
    assert sorted(set(EN) - set(ZH)) == [] and sorted(set(ZH) - set(EN)) == []


def test_both_languages_take_the_same_values() -> None:
    differ = [k for k in EN if fields(EN[k]) != fields(ZH[k])]
    assert not differ, differ
