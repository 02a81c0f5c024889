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


def test_every_chinese_sentence_draws_in_the_bundled_font() -> None:
    """The charts' font is a subset: a catalogue sentence with a hanzi outside it would draw boxes."""
    from fontTools.ttLib import TTFont

    from simulate.report.plots.charts import FONTS
    for path in FONTS.glob("*.otf"):
        covered = TTFont(path).getBestCmap()
        missing = sorted({c for text in ZH.values() for c in text if ord(c) >= 0x2E80 and ord(c) not in covered})
        assert not missing, f"{path.name} lacks {''.join(missing)}"
