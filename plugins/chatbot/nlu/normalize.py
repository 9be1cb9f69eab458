"""Spanish text normalisation for the classifier.

Citizens write "q nesecito p/ sacar la sedula???", "podés", "puedes", "PASAPORTE".
Two views of a text feed the features: :func:`normalize` (lower case, no accents or
punctuation, common abbreviations and tú/vos forms folded, repeated letters
squeezed) for word n-grams, and :func:`phonetic` (normalised, then the spelling
pairs Uruguayans confuse folded: s/z/c, b/v, ll/y, silent h…) for character
n-grams, so that a misspelling lands on the same n-grams as the right spelling.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_WORD = re.compile(r"[^a-z0-9ñ]+")
_REPEATS = re.compile(r"([a-zñ])\1{2,}")
_SPACES = re.compile(r"\s+")

# Abbreviations and frequent misspellings of chat Spanish, word by word (after accents
# are removed). Kept short on purpose: character n-grams absorb most typos.
ABBREVIATIONS: dict[str, str] = {
    "q": "que", "k": "que", "ke": "que", "qe": "que", "xq": "porque", "pq": "porque",
    "porq": "porque", "x": "por", "xa": "para", "pa": "para", "p": "para", "tb": "tambien",
    "tmb": "tambien", "tbm": "tambien", "d": "de", "dnd": "donde", "cdo": "cuando",
    "cuand": "cuando", "xfa": "por favor", "xfavor": "por favor", "porfa": "por favor",
    "pls": "por favor", "plis": "por favor", "hs": "horas", "hrs": "horas", "nro": "numero",
    "num": "numero", "n°": "numero", "info": "informacion", "tel": "telefono",
    "cel": "celular", "msj": "mensaje", "msg": "mensaje", "dr": "doctor", "sra": "senora",
    "sr": "senor", "bno": "bueno", "bn": "bien", "tmp": "tampoco", "ola": "hola",
    "wenas": "buenas", "holis": "hola", "grax": "gracias", "grasias": "gracias",
    "nesecito": "necesito", "nececito": "necesito", "nesesito": "necesito",
    "sedula": "cedula", "cedla": "cedula", "ceduka": "cedula", "pasaport": "pasaporte",
    "pasporte": "pasaporte", "pasapote": "pasaporte", "tramit": "tramite",
    "tramte": "tramite", "liberta": "libreta", "librta": "libreta",
}

# tú and usted forms folded onto the voseo Uruguayans write ("podés", "tenés"),
# after accents are removed: "puedes" and "podes" become one word.
VOSEO: dict[str, str] = {
    "puedes": "podes", "puede": "podes", "pueden": "podes", "podrias": "podes",
    "podria": "podes", "podra": "podes", "tienes": "tenes", "tiene": "tenes",
    "tendria": "tenes", "tenga": "tenes", "quieres": "queres", "quiere": "queres",
    "eres": "sos", "vienes": "venis", "dices": "decis", "dime": "decime",
    "digame": "decime", "debe": "debes", "ayudeme": "ayudame", "ayudarme": "ayudame",
    "indiqueme": "indicame", "expliqueme": "explicame",
}


def strip_accents(text: str) -> str:
    """Remove diacritics (á→a, ü→u, ñ→n): citizens type with and without them."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """The text as the word features see it: lower case, no accents, no
    punctuation, abbreviations expanded, tú/usted verbs folded onto voseo."""
    text = strip_accents(text.lower().replace("n°", " numero "))
    text = _NON_WORD.sub(" ", text)
    text = _REPEATS.sub(r"\1", text)
    words = []
    for word in text.split():
        word = ABBREVIATIONS.get(word, word)
        words.append(VOSEO.get(word, word))
    return " ".join(words)


# Applied in order to normalised text; each rule maps spellings that sound alike in
# Uruguayan Spanish (seseo, yeísmo, b/v, silent h) onto one.
_PHONETIC = [
    (re.compile(r"ch"), "0"),  # keep "ch" apart from c and h
    (re.compile(r"qu([ei])"), r"k\1"),
    (re.compile(r"c([ei])"), r"s\1"),
    (re.compile(r"z"), "s"),
    (re.compile(r"c"), "k"),
    (re.compile(r"v"), "b"),
    (re.compile(r"ll"), "y"),
    (re.compile(r"h"), ""),
    (re.compile(r"g([ei])"), r"j\1"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"([a-z])\1"), r"\1"),
]


@lru_cache(maxsize=65536)
def phonetic(text: str) -> str:
    """The normalised text with sound-alike spellings folded ("sedula" and "cédula"
    both become "sedula"), for the character n-gram features."""
    out = normalize(text)
    for pattern, replacement in _PHONETIC:
        out = pattern.sub(replacement, out)
    return out


def has_words(text: str) -> bool:
    """True if the text has at least one letter or digit (not only emoji,
    punctuation or spaces)."""
    return any(c.isalnum() for c in text)


_ENGLISH = {
    "the", "is", "are", "you", "how", "what", "my", "do", "i", "can", "where", "when",
    "please", "hello", "hi", "need", "want", "get", "renew", "to", "of", "and", "your",
    "it", "this", "does", "have", "would", "could", "thanks", "thank", "with", "for",
}
_PORTUGUESE = {
    "voce", "nao", "obrigado", "obrigada", "preciso", "minha", "meu", "fazer", "tenho",
    "como", "onde", "quando", "esta", "e", "um", "uma", "ola", "bom", "dia", "tudo",
    "carteira", "identidade", "renovar", "posso", "quero", "sim", "muito", "aqui",
}
_SPANISH_ONLY = {
    "que", "el", "la", "los", "las", "de", "del", "y", "en", "por", "para", "mi",
    "quiero", "necesito", "como", "donde", "cuando", "hola", "gracias", "tramite",
    "cedula", "pasaporte", "es", "un", "una", "se", "con", "sacar", "hora",
}
_PT_MARKERS = {"voce", "nao", "obrigado", "obrigada", "preciso", "minha", "meu", "tenho", "posso", "tudo", "muito"}


def foreign_language(text: str) -> str | None:
    """``"en"`` or ``"pt"`` when a text of several words is clearly English or
    Portuguese rather than Spanish; ``None`` otherwise (short texts are never judged).
    A deliberately small check: it only decides whether to say "I only understand
    Spanish" instead of guessing."""
    words = normalize(text).split()
    if len(words) < 3:
        return None
    spanish = sum(w in _SPANISH_ONLY for w in words)
    english = sum(w in _ENGLISH for w in words)
    portuguese = sum(w in _PORTUGUESE for w in words)
    if english >= 2 and english > 2 * spanish:
        return "en"
    if any(w in _PT_MARKERS for w in words) and portuguese >= 2 and portuguese > spanish:
        return "pt"
    return None
