"""Which characters of a text no installed font can draw.

WeasyPrint draws text through Pango, which takes each character the sheet's font-family list
lacks from a font fontconfig offers that has it; a character no font has is printed as an empty
box (.notdef), and nothing says so. undrawable(text) names those characters, so that a name or
title holding one is refused before anything is laid out. A font's coverage is fontconfig's own
charset of it, the same table Pango falls back on, read through the fontconfig library that
Pango loads anyway (no font file is parsed, no program run): every installed font's charset is
merged into one, once per process, the first time a text is checked (about 0.01 s with DejaVu
and the Noto fonts, 336 fonts, installed); each distinct character is then looked up once, so a
roster of 10,000 names is checked in a few hundredths of a second.

Whitespace, format characters (category Cf: RLM, LRM, ZWJ, ...) and the other default-ignorable
code points (variation selectors, ...) are not checked: HarfBuzz draws them as nothing.

Leaves out: whether the font a character falls back to suits the text (fontconfig chooses it:
Han characters take the first CJK font it sorts, the Japanese forms with Debian's Noto CJK, and
Arabic and Hebrew stay in DejaVu Sans), shaping (a word is checked character by character), and
fonts a school's template would bring with @font-face (nothing is fetched). Where the fontconfig
library cannot be opened, no character is refused: WeasyPrint cannot print without it either.
"""

import ctypes
import ctypes.util
import re
import unicodedata

# Cf, and the default-ignorable code points outside it (Unicode's DerivedCoreProperties)
_IGNORED = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2065\u3164\ufe00-\ufe0f"
                      "\uffa0\ufff0-\ufff8\U000e0000-\U000e0fff]")
_SONAMES = ("libfontconfig.so.1", "libfontconfig.1.dylib", "libfontconfig-1.dll")
_drawn: dict[str, bool] = {}   # each character's verdict, once per process
_installed = []                # [(has(code point) -> bool, families)], filled on first use
_NOTO_CJK, _NOTO_CORE = ("fonts-noto-cjk", "Noto Sans CJK"), ("fonts-noto-core", "Noto Sans")  # (package, family)


def undrawable(text: str) -> str:
    """The characters of `text` that no installed font draws, each once, in order:
    'Ada 李雷' -> '' with a CJK font installed, '李雷' without; 'a\\ue000' -> '\\ue000'."""
    missing = []
    for ch in dict.fromkeys(text):
        verdict = _drawn.get(ch)
        if verdict is None:
            verdict = _drawn[ch] = (ch.isspace() or unicodedata.category(ch) == "Cf"
                                    or bool(_IGNORED.match(ch)) or _has(ord(ch)))
        if not verdict:
            missing.append(ch)
    return "".join(missing)


def named(chars: str, most: int = 5) -> str:
    """'李雷' -> "'李' (U+674E), '雷' (U+96F7)"; past `most` characters, 'and N more'."""
    shown = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in chars[:most])
    return shown + (f" and {len(chars) - most} more" if len(chars) > most else "")


def remedy(chars: str) -> str:
    """What to do about characters no font draws: install a font that has them (naming Debian's
    Noto package for them while no font of it is installed), or, for a private-use or unassigned
    code point, which no standard font has, remove it."""
    assigned = [ch for ch in chars if unicodedata.category(ch) not in ("Co", "Cn")]
    if not assigned:
        return "no standard font has a private-use or unassigned character: remove it"
    families = _fontconfig()[1]
    packages = sorted({package for ch in assigned
                       for package, family in [_NOTO_CJK if _is_cjk(ch) else _NOTO_CORE]
                       if not any(f.startswith(family) for f in families)})
    them = "it" if len(chars) == 1 else "them"
    return f"install a font that has {them}" + (f" (on Debian: {' '.join(packages)})" if packages else "")



def _is_cjk(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA", "HANGUL",
                                                "BOPOMOFO", "IDEOGRAPHIC"))


def _has(code: int) -> bool:
    return _fontconfig()[0](code)


def _fontconfig():
    if not _installed:
        _installed.append(_load())
    return _installed[0]


def _open_fontconfig():
    for name in _SONAMES + (ctypes.util.find_library("fontconfig"),):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
    return None


class _FontSet(ctypes.Structure):
    _fields_ = [("nfont", ctypes.c_int), ("sfont", ctypes.c_int), ("fonts", ctypes.POINTER(ctypes.c_void_p))]


def _load():
    """(has(code point): whether some font fontconfig lists covers it (their charsets merged),
    the families of the fonts it lists)."""
    fc = _open_fontconfig()
    if fc is None:
        return (lambda code: True), frozenset()
    p = ctypes.c_void_p
    for name, result, args in (("FcInitLoadConfigAndFonts", p, ()), ("FcPatternCreate", p, ()),
                               ("FcObjectSetCreate", p, ()), ("FcObjectSetAdd", ctypes.c_int, (p, ctypes.c_char_p)),
                               ("FcFontList", ctypes.POINTER(_FontSet), (p, p, p)),
                               ("FcPatternGetCharSet", ctypes.c_int, (p, ctypes.c_char_p, ctypes.c_int,
                                                                      ctypes.POINTER(p))),
                               ("FcPatternGetString", ctypes.c_int, (p, ctypes.c_char_p, ctypes.c_int,
                                                                     ctypes.POINTER(ctypes.c_char_p))),
                               ("FcCharSetCreate", p, ()), ("FcCharSetMerge", ctypes.c_int, (p, p, p)),
                               ("FcCharSetHasChar", ctypes.c_int, (p, ctypes.c_uint32)),
                               ("FcFontSetDestroy", None, (ctypes.POINTER(_FontSet),)),
                               ("FcObjectSetDestroy", None, (p,)), ("FcPatternDestroy", None, (p,)),
                               ("FcConfigDestroy", None, (p,))):
        function = getattr(fc, name)
        function.restype, function.argtypes = result, args
    config, pattern, wanted = fc.FcInitLoadConfigAndFonts(), fc.FcPatternCreate(), fc.FcObjectSetCreate()
    fc.FcObjectSetAdd(wanted, b"charset")
    fc.FcObjectSetAdd(wanted, b"family")
    found = fc.FcFontList(config, pattern, wanted)
    union, families = fc.FcCharSetCreate(), set()
    charset, family = p(), ctypes.c_char_p()
    for i in range(found.contents.nfont if found else 0):
        font = found.contents.fonts[i]
        if fc.FcPatternGetCharSet(font, b"charset", 0, ctypes.byref(charset)) == 0:  # FcResultMatch
            fc.FcCharSetMerge(union, charset, None)
        if fc.FcPatternGetString(font, b"family", 0, ctypes.byref(family)) == 0:
            families.add(family.value.decode("utf-8", "replace"))
    if found:
        fc.FcFontSetDestroy(found)
    fc.FcObjectSetDestroy(wanted)
    fc.FcPatternDestroy(pattern)
    if config:
        fc.FcConfigDestroy(config)
    return (lambda code: bool(fc.FcCharSetHasChar(union, code))), frozenset(families)
