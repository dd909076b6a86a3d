"""jieba's word cutting, with its dictionary read only as far as the text needs it.

jieba's dictionary holds about 500,000 words and prefixes. ``jieba.initialize()``
reads all of them into one dict, which takes about a second: the larger part of
a service's start-up. Yet jieba only ever looks up pieces of the text it cuts, so
cutting a text needs just the entries that start with one of its characters, and
govreport cuts only about a hundred characters a report.

So the dictionary is kept on disk grouped by first character (built once from
jieba's own dictionary file, in the user's cache directory), and a text's groups
are read into the tokenizer just before it is cut. The words are exactly
``jieba.cut(text)``'s: the same dictionary, the same total, the same code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba

log = logging.getLogger(__name__)

FORMAT = 1
SEP = "\t"  # between words and frequencies in a group: no dictionary word holds a tab


def cache_dir() -> Path:
    """Where the grouped dictionary is kept: ``$GOVREPORT_CACHE_DIR``, else the user's cache."""
    if os.environ.get("GOVREPORT_CACHE_DIR"):
        return Path(os.environ["GOVREPORT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "govreport"


def _jieba_dictionary() -> str:
    import jieba

    return os.path.join(os.path.dirname(jieba.__file__), jieba.DEFAULT_DICT_NAME)


def cache_file(directory: Path | None = None) -> Path:
    """The grouped copy of the installed jieba's dictionary in ``directory`` (default:
    ``cache_dir()``).  Named after the dictionary file it comes from, so that two
    installs sharing a cache directory (two virtualenvs) do not overwrite each other's."""
    digest = hashlib.sha1(_source_stamp(_jieba_dictionary()).encode("utf-8")).hexdigest()[:12]
    return (directory or cache_dir()) / f"jieba-dict-v{FORMAT}-{digest}.tsv"


def _source_stamp(path: str) -> str:
    """What the cache was built from: jieba's dictionary file, its size and its mtime."""
    st = os.stat(path)
    return f"{os.path.abspath(path)}:{st.st_size}:{st.st_mtime_ns}"


class GroupedDictionary:
    """jieba's word frequencies on disk, grouped by first character.

    File layout: one JSON header line (format, source stamp, jieba's frequency total,
    and each first character's byte range in the body), then the body: per first
    character, ``word<TAB>freq<TAB>…``.
    """

    def __init__(self, body: bytes, index: dict[str, list[int]], total: int) -> None:
        self.body = body
        self.index = index
        self.total = total

    @classmethod
    def build(cls, freq: dict[str, int], total: int, path: Path, source: str) -> None:
        """Write ``freq`` grouped by first character to ``path`` (atomically)."""
        groups: dict[str, list[str]] = {}
        for word, count in freq.items():
            if SEP in word or not word:
                raise ValueError(f"dictionary word {word!r} cannot be stored")
            groups.setdefault(word[0], []).extend((word, str(count)))
        index: dict[str, list[int]] = {}
        chunks: list[bytes] = []
        at = 0
        for first in sorted(groups):
            chunk = SEP.join(groups[first]).encode("utf-8")
            index[first] = [at, at + len(chunk)]
            chunks.append(chunk)
            at += len(chunk)
        header = json.dumps({"format": FORMAT, "source": source, "total": total, "index": index},
                            ensure_ascii=False).encode("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header + b"\n")
                f.writelines(chunks)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def read(cls, path: Path, source: str) -> GroupedDictionary | None:
        """The grouped dictionary at ``path`` if it was built from ``source``, else None."""
        try:
            data = path.read_bytes()
            head, _, body = data.partition(b"\n")
            header = json.loads(head)
        except (OSError, ValueError):
            return None
        if header.get("format") != FORMAT or header.get("source") != source:
            return None
        return cls(body, header["index"], header["total"])

    def group(self, first: str) -> dict[str, int]:
        """Every entry starting with the character ``first``."""
        span = self.index.get(first)
        if span is None:
            return {}
        parts = self.body[span[0]:span[1]].decode("utf-8").split(SEP)
        return dict(zip(parts[::2], map(int, parts[1::2])))


class LazyTokenizer:
    """A ``jieba.Tokenizer`` whose dictionary is filled a first character at a time."""

    def __init__(self, tokenizer: jieba.Tokenizer, grouped: GroupedDictionary | None) -> None:
        self.tokenizer = tokenizer
        self.grouped = grouped
        self._read: set[str] = set()
        self._lock = threading.Lock()

    def cut(self, text: str) -> list[str]:
        """``jieba.lcut(text)``: accurate mode with the HMM for unknown words."""
        if self.grouped is not None:
            missing = set(text).difference(self._read)
            if missing:
                self._read_groups(missing)
        return list(self.tokenizer.cut(text, cut_all=False))

    def _read_groups(self, firsts: set[str]) -> None:
        # A character counts as read only once its entries are in the dictionary, so
        # another thread never cuts with half of them.
        with self._lock:
            freq = self.tokenizer.FREQ
            for first in firsts.difference(self._read):
                freq.update(self.grouped.group(first))
                self._read.add(first)


def load_tokenizer(directory: Path | None = None) -> LazyTokenizer:
    """jieba's default dictionary behind a tokenizer that reads it as needed.

    The first time (or after jieba's dictionary changes) the whole dictionary is read
    the way jieba reads it and the grouped copy written; when that copy cannot be
    written, this process keeps the whole dictionary in memory and works all the same.
    """
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    dict_path = _jieba_dictionary()
    source = _source_stamp(dict_path)
    path = cache_file(directory)
    grouped = GroupedDictionary.read(path, source)
    if grouped is None:
        log.info("reading jieba's whole dictionary once, to keep it grouped in %s", path)
        with open(dict_path, "rb") as f:
            freq, total = jieba.Tokenizer.gen_pfdict(f)
        try:
            GroupedDictionary.build(freq, total, path, source)
        except OSError as e:
            log.warning("jieba's dictionary is read whole at each start: cannot write %s (%s)",
                        path, e)
        grouped = GroupedDictionary.read(path, source)
        if grouped is None:
            tokenizer.FREQ, tokenizer.total = freq, total
    if grouped is not None:
        tokenizer.FREQ, tokenizer.total = {}, grouped.total
    tokenizer.initialized = True  # what jieba.Tokenizer.initialize() sets once FREQ is in
    return LazyTokenizer(tokenizer, grouped)
