"""Numbers as reports write them: full-width digits, thousands separators,
decimals, Chinese numerals (二十三, 一百零五, 两千), and the 万 multiplier.

``fold`` maps full-width characters to ASCII one character for one, so offsets
in folded text are offsets in the original.
"""

from __future__ import annotations

import re

# Full-width ASCII variants (！ to ～) and the ideographic space fold to ASCII.
_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FOLD[0x3000] = 0x20


_WIDE = re.compile("[\uff01-\uff5e\u3000]")
_FOLD_CHARS = {chr(k): chr(v) for k, v in _FOLD.items()}


def fold(text: str) -> str:
    """Full-width to half-width, same length (offsets stay valid)."""
    # Substituting only the wide characters is ~8x faster than str.translate with a dict,
    # which pays a lookup for every character of a Chinese text.
    return _WIDE.sub(lambda m: _FOLD_CHARS[m.group()], text)


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG = {"万": 10_000, "亿": 100_000_000}
CHINESE_NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS) + "".join(_BIG)


def chinese_to_int(s: str) -> int | None:
    """Value of a Chinese numeral (``二十三`` → 23, ``一百零五`` → 105); None if malformed."""
    if len(s) == 1:  # the common case (一、 in headings), without the general loop
        if s in _DIGITS:
            return _DIGITS[s]
        if s in _UNITS:
            return _UNITS[s]
        return 0 if s in _BIG else None
    if not s or any(c not in CHINESE_NUMERAL_CHARS for c in s):
        return None
    if all(c in _DIGITS for c in s) and len(s) > 1:
        # Digit-by-digit numerals such as 二〇二四.
        return int("".join(str(_DIGITS[c]) for c in s))
    hundred_millions, ten_thousands, section, digit = 0, 0, 0, None
    for c in s:
        if c in _DIGITS:
            if digit is not None and _DIGITS[c] != 0:
                return None  # two digits in a row without a unit: not a numeral
            digit = _DIGITS[c] if _DIGITS[c] != 0 else None
        elif c in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[c]
            digit = None
        elif c == "万":
            ten_thousands += (section + (digit or 0)) * 10_000
            section, digit = 0, None
        else:  # 亿
            hundred_millions += (ten_thousands + section + (digit or 0)) * 100_000_000
            ten_thousands, section, digit = 0, 0, None
    return hundred_millions + ten_thousands + section + (digit or 0)


# An Arabic number: digits with optional thousands separators and a decimal
# part, optionally followed by 万 (ten thousand).
# (Written to start with a digit, which lets the regex engine skip to digits quickly:
# the first digit, then "not preceded by a digit or a point", then the rest.)
_ARABIC = re.compile(r"(\d(?<![\d.]\d)(?:\d{0,2}(?:,\d{3})+|\d*))(\.\d+)?(万)?")
_CHINESE = re.compile(f"[{CHINESE_NUMERAL_CHARS}]+")


def parse_number(s: str) -> int | float | None:
    """The value of one written number (``1,234``, ``１２``, ``3.5万``, ``二十``), else None."""
    s = fold(s).strip()
    if not s:
        return None
    m = _ARABIC.fullmatch(s)
    if m:
        return _arabic_value(m)
    return chinese_to_int(s)


def _arabic_value(m: re.Match) -> int | float:
    whole = int(m.group(1).replace(",", ""))
    value: int | float = whole + float(m.group(2)) if m.group(2) else whole
    if m.group(3):
        value = value * 10_000
    if isinstance(value, float) and value.is_integer() and m.group(3):
        value = int(value)
    return value


def numbers_in(text: str) -> list[tuple[int | float, int, int]]:
    """Every number written in ``text`` as (value, start, end), in order.

    Chinese numerals count only when they are not part of a word such as 一是
    or 统一: a lone 一 is too ambiguous, so single-character numerals other
    than 十 are skipped.
    """
    return numbers_in_folded(fold(text))


def numbers_in_folded(folded: str) -> list[tuple[int | float, int, int]]:
    """``numbers_in`` of a text already passed through ``fold``."""
    found: list[tuple[int | float, int, int]] = []
    for m in _ARABIC.finditer(folded):
        found.append((_arabic_value(m), m.start(), m.end()))
    for m in _CHINESE.finditer(folded):
        token = m.group()
        if len(token) == 1 and token != "十":
            continue
        value = chinese_to_int(token)
        if value is not None:
            found.append((value, m.start(), m.end()))
    found.sort(key=lambda t: t[1])
    return found


def count_numbers(text: str, limit: int) -> int:
    """``min(len(numbers_in(text)), limit)``, stopping at ``limit`` (a table row holds dozens)."""
    folded = fold(text)
    n = 0
    for _ in _ARABIC.finditer(folded):
        n += 1
        if n >= limit:
            return limit
    for m in _CHINESE.finditer(folded):
        token = m.group()
        if (len(token) > 1 or token == "十") and chinese_to_int(token) is not None:
            n += 1
            if n >= limit:
                return limit
    return n
