"""The one definition of "the same article".

Two posts carry the same article when their :func:`fingerprint_text` is equal (:func:`exact_key`) or when
the character shingles of it overlap enough (MinHash + LSH banding, :func:`minhash_signature`,
:func:`band_keys`, :func:`estimated_jaccard`). Everything that decides "repost or not" goes through here;
:mod:`pipelines.repost_index` only stores and looks up these values.

Changing anything in this module changes stored keys and signatures: bump :data:`FINGERPRINT_VERSION` and
rebuild the index.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from datasketch import MinHash

FINGERPRINT_VERSION: Final = 1

# Applied in order to the NFKC-normalised, lower-cased text (so full-width "（：）" are already "(:)"),
# before whitespace and punctuation are dropped. Each one removes text that differs between copies of the
# same article, or that unrelated posts share.
BOILERPLATE_PATTERNS: Final[tuple[re.Pattern[str], ...]] = (
    re.compile(r"\[\s*点击查看原文\s*\]"),
    # "（文章来源：中国新闻网）", "（来源：券商中国的财富号 2019-01-23 05:31）", "（来源：新华社）"
    re.compile(r"\(\s*(?:文章)?来源\s*:[^()\n]{0,60}\)"),
    # A 来源/转自 header line: "来源：中国新闻网", "本文来自: 读创 2024-05-22".
    re.compile(r"^[ \t]*(?:本文来源于|本文来源|本文来自|文章来源|来源|转自|转载自)\s*:[^\n]{0,40}$", re.M),
    # "转自网易财经：" in front of pasted text keeps the text.
    re.compile(r"^[ \t]*(?:转自|转载自)[^\n:]{1,20}:", re.M),
    # K-line remnants: the image alt "K图 600519_0" and its data-code text "K 600519|1|1".
    re.compile(r"k图\s*[0-9a-z.]*(?:_\d+)?"),
    re.compile(r"k\s*[0-9a-z]{1,10}\|\d{1,3}\|\d\|?"),
    # Disclaimer / editor lines.
    re.compile(
        r"^[^\n]*(?:免责声明|风险提示|不构成投资建议|不构成任何投资建议|据此操作|风险自担|股市有风险|投资需谨慎)[^\n]*$",
        re.M,
    ),
    re.compile(r"^[ \t]*(?:责任编辑|编辑|责编|校对|审核)\s*:[^\n]{0,20}$", re.M),
)

# \W is everything but letters, digits and "_"; "_" is punctuation here too.
_NOT_WORD_RE: Final = re.compile(r"[\W_]+")


def fingerprint_text(body: str) -> str:
    """Canonical text for comparing articles: NFKC (full/half-width agree), lower-case, boilerplate removed
    (:data:`BOILERPLATE_PATTERNS`: 来源 lines and notes, ``[点击查看原文]``, K-line text, disclaimers), then
    every whitespace, punctuation and symbol character dropped — only letters and digits remain.
    Empty or all-boilerplate input → ``""``."""
    if not body:
        return ""
    text = unicodedata.normalize("NFKC", body).lower()
    for pattern in BOILERPLATE_PATTERNS:
        text = pattern.sub(" ", text)
    return _NOT_WORD_RE.sub("", text)


def exact_key(text: str) -> str:
    """sha1 hex of :func:`fingerprint_text` — equal keys mean the same article, word for word."""
    return key_of_fingerprint(fingerprint_text(text))


def key_of_fingerprint(fp: str) -> str:
    """:func:`exact_key` for an already computed :func:`fingerprint_text` (saves recomputing it)."""
    return hashlib.sha1(fp.encode("utf-8")).hexdigest()


@lru_cache(maxsize=8)
def _template(num_perm: int, seed: int) -> MinHash:
    # The permutations are random draws; building them once per (num_perm, seed) saves most of the cost.
    # The scheme is pinned: a library default change must not silently change stored signatures.
    # crc32 is stable across processes and machines, and ~3x faster than datasketch's default sha1.
    return MinHash(num_perm=num_perm, seed=seed, hashfunc=zlib.crc32, scheme="affine32")


def _shingles(fp: str, size: int) -> set[bytes]:
    if len(fp) <= size:
        return {fp.encode("utf-8")} if fp else set()
    return {fp[i : i + size].encode("utf-8") for i in range(len(fp) - size + 1)}


def minhash_signature(text: str, *, num_perm: int = 128, shingle_size: int = 5, seed: int = 1) -> list[int]:
    """MinHash signature (``num_perm`` unsigned 32-bit ints) of the character ``shingle_size``-grams of
    :func:`fingerprint_text`. Deterministic for equal arguments, in any process. A fingerprint shorter than
    one shingle is a single shingle; an empty fingerprint gives the all-``2**32-1`` empty signature."""
    return signature_of_fingerprint(fingerprint_text(text), num_perm=num_perm, shingle_size=shingle_size, seed=seed)


def signature_of_fingerprint(fp: str, *, num_perm: int = 128, shingle_size: int = 5, seed: int = 1) -> list[int]:
    """:func:`minhash_signature` for an already computed :func:`fingerprint_text`."""
    template = _template(num_perm, seed)
    mh = MinHash(
        num_perm=num_perm,
        seed=seed,
        hashfunc=zlib.crc32,
        permutations=template.permutations,
        scheme="affine32",
    )
    shingles = _shingles(fp, shingle_size)
    if shingles:
        mh.update_batch(shingles)
    return [int(v) for v in mh.hashvalues]


# LSH banding. With 128 permutations and 32 bands of r = 4 rows, a pair with Jaccard s shares at least one
# band with probability P(s) = 1 - (1 - s**4) ** 32:
#     s:    0.1     0.2    0.3    0.4    0.5    0.6    0.7    0.8         0.9
#     P:    0.003   0.050  0.229  0.562  0.873  0.988  0.9996 0.99999995  ~1
# so near-duplicates (s >= 0.8) are practically never missed, even when the MinHash estimate of a pair
# near the threshold is noisy. Candidates are verified with estimated_jaccard() against the threshold,
# so a chance collision costs one signature fetch; the index also ranks candidates by the number of shared
# bands (an 0.8 pair shares ~13 bands, a 0.3 pair ~0.3), which keeps chance candidates out of the capped
# candidate list. (21 bands x 6 rows would cut P(0.3) to 0.015 but P(0.8) falls to 0.998.)
def band_keys(signature: Sequence[int], *, bands: int = 32) -> list[str]:
    """LSH band keys ``"{band_no}:{hash of the band's rows}"`` for a signature. Rows per band =
    ``len(signature) // bands``; left-over rows are unused. Two signatures share a key only if they agree on
    every row of that band. ``bands`` must be between 1 and ``len(signature)`` (else ``ValueError``)."""
    if not 1 <= bands <= len(signature):
        raise ValueError(f"bands must be in 1..{len(signature)}, got {bands}")
    rows = len(signature) // bands
    values = [str(int(v)) for v in signature[: bands * rows]]
    blake2b = hashlib.blake2b
    return [
        f"{b}:{blake2b(','.join(values[b * rows : (b + 1) * rows]).encode('ascii'), digest_size=8).hexdigest()}"
        for b in range(bands)
    ]


def estimated_jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """Fraction of equal positions of two signatures of the same length (else ``ValueError``). Two empty
    signatures → 0.0."""
    if len(a) != len(b):
        raise ValueError(f"signatures differ in length: {len(a)} != {len(b)}")
    if not a:
        return 0.0
    return sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a)


def is_long_enough(text: str, min_chars: int) -> bool:
    """Whether :func:`fingerprint_text` of ``text`` has at least ``min_chars`` characters; shorter posts
    ("涨停！") are too generic to merge on content alone."""
    return len(fingerprint_text(text)) >= min_chars
