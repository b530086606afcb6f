"""A Whoosh codec whose posting blocks are half the size of stock ones.

Whoosh pickles each block of postings with pickle protocol 2, where every
``bytes`` value (our encoded positions, 2 bytes for most postings) becomes a
``_codecs.encode`` call of ~20 bytes, and every float weight 9 bytes.  This
codec's postings writer hands the pickler the values and weights of a block
packed into one string each; unpickling calls :func:`unpack` (this module),
which gives the reader the tuple and array it always had.  Only writing
differs: the stock reader reads these blocks, and old blocks stay readable.

On scripts/make_corpus.py text the posting file shrinks from 18.5 to 9.2 MB
per 2,500 articles, and writing it costs less CPU, not more.

Every writer of a healthkb index opens with :func:`writer` so all segments,
merged ones included, are written this way.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence

from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter

_VALUES, _WEIGHTS = 0, 1


def unpack(kind: int, packed: str):
    """Rebuild what :class:`_Packed` stood for in a pickled block: the
    weights' array, or the values as a :class:`LazyValues`."""
    if kind == _WEIGHTS:
        return array("f", packed.encode("latin-1"))
    return LazyValues(packed)


class LazyValues(Sequence):
    """A block's values (encoded positions), split out of the packed string
    on first use.  Reading a block loads ids, weights and values together,
    yet most searches score with ids and weights alone; splitting every
    block's values (a Python loop per posting) was the largest part of a
    question's search time."""

    __slots__ = ("_packed", "_values")

    def __init__(self, packed: str) -> None:
        self._packed = packed
        self._values: tuple[bytes, ...] | None = None

    def _split(self) -> tuple[bytes, ...]:
        if self._values is None:
            self._values = _split_values(self._packed.encode("latin-1"))
            self._packed = ""
        return self._values

    def __getitem__(self, index):
        return self._split()[index]

    def __len__(self) -> int:
        return len(self._split())

    def __iter__(self):
        return iter(self._split())

    def __eq__(self, other) -> bool:
        return self._split() == (other._split() if isinstance(other, LazyValues) else other)

    __hash__ = None  # mutable cache inside; compared by content

    def __repr__(self) -> str:
        return f"LazyValues({self._split()!r})"


def _split_values(data: bytes) -> tuple[bytes, ...]:
    values, at = [], 0
    while at < len(data):
        size, shift = 0, 0
        while True:
            byte = data[at]
            at += 1
            size |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
        values.append(data[at : at + size])
        at += size
    return tuple(values)


class _Packed:
    """Pickles as ``unpack(kind, one latin-1 string)``: a few bytes of overhead
    per block instead of per posting."""

    __slots__ = ("kind", "packed")

    def __init__(self, kind: int, data: bytes) -> None:
        self.kind, self.packed = kind, data.decode("latin-1")

    def __reduce__(self):
        return unpack, (self.kind, self.packed)


def _pack_values(values: list[bytes]) -> bytes:
    out = bytearray()
    for value in values:
        size = len(value)
        while size > 0x7F:
            out.append((size & 0x7F) | 0x80)
            size >>= 7
        out.append(size)
        out += value
    return bytes(out)


class CompactPostingsWriter(W3PostingsWriter):
    def _mini_weights(self):
        weights = super()._mini_weights()
        if isinstance(weights, tuple):
            return _Packed(_WEIGHTS, self._weights.tobytes())
        return weights

    def _mini_values(self):
        values = super()._mini_values()
        if isinstance(values, tuple):
            return _Packed(_VALUES, _pack_values(values))
        return values


class CompactCodec(W3Codec):
    def postings_writer(self, dbfile, byteids=False):
        return CompactPostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )


def writer(index, **options):
    """``index.writer(**options)`` writing with :class:`CompactCodec`."""
    return index.writer(codec=CompactCodec(), **options)


DELETED_SHARE = 0.2  # a segment with more of its documents deleted is rewritten
MERGE_FACTOR = 4  # a size tier is merged once it holds this many segments
LARGE_SEGMENT_DOCS = 256  # segments this big are left alone (but for DELETED_SHARE)


def _tier(live_docs: int) -> int:
    """0 for 0-3 documents, 1 for 4-15, 2 for 16-63, 3 for 64-255."""
    tier = 0
    while live_docs >= MERGE_FACTOR ** (tier + 1):
        tier += 1
    return tier


def merge_policy(writer, segments):
    """Which segments a commit merges (Whoosh calls this; see ``commit``).

    - A segment whose deleted documents exceed DELETED_SHARE is rewritten:
      an update only marks the old copy of a document deleted (its postings
      stay), so without this an index grew to 2x a fresh build after ~25
      updates.
    - Small segments merge by tiers of size: the smallest tier that holds
      MERGE_FACTOR segments becomes one segment of the next tier.  A one-file
      update adds a one-document segment, so most commits merge nothing or
      four tiny segments, and a document is copied again once per tier.
      Whoosh's MERGE_SMALL instead merged its growing small segment back in
      every fourth update: at 100,000 articles a 30-document segment is
      ~12,000 postings, 0.3-0.6 s copied posting by posting.
    - Segments of LARGE_SEGMENT_DOCS or more (a full build's) never merge here.
    """
    kept, tiers = [], {}
    for segment in segments:
        live = segment.doc_count_all() - segment.deleted_count()
        if segment.deleted_count() > DELETED_SHARE * segment.doc_count_all():
            _absorb(writer, segment)
        elif live >= LARGE_SEGMENT_DOCS:
            kept.append(segment)
        else:
            tiers.setdefault(_tier(live), []).append(segment)
            kept.append(segment)
    full = [group for _tier_number, group in sorted(tiers.items()) if len(group) >= MERGE_FACTOR]
    merged = full[0] if full else []
    for segment in merged:
        _absorb(writer, segment)
    return [segment for segment in kept if segment not in merged]


def _absorb(writer, segment) -> None:
    """Copy ``segment``'s live documents into the segment being written."""
    from whoosh.reading import SegmentReader

    reader = SegmentReader(writer.storage, writer.schema, segment)
    writer.add_reader(reader)
    reader.close()


_POSTING = struct.Struct("<IfI")  # docnum, weight, value length
_NO_VALUE = 0xFFFFFFFF


class TermPool:
    """A segment's postings in memory, packed: ~12 bytes a posting.

    Stands in for Whoosh's PostingPool, which keeps each posting as a tuple
    of Python objects (~200 bytes) and so has to spill to disk and merge
    back (one pickle per posting) long before a shard is indexed.  Postings
    arrive in document order, so each term's packed list is already sorted;
    only the terms are sorted at the end.  ``currentsize`` is what the pool
    holds, in bytes, for the caller's flush decision.
    """

    def __init__(self) -> None:
        self.fields: dict[str, dict[bytes, bytearray]] = {}
        self.currentsize = 0

    def add(self, item) -> None:
        fieldname, text, docnum, weight, value = item
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        packed = terms.get(text)
        if packed is None:
            packed = terms[text] = bytearray()
            self.currentsize += 120 + len(text)  # the dict slot, key and buffer
        if value is None:
            packed += _POSTING.pack(docnum, weight, _NO_VALUE)
            self.currentsize += _POSTING.size
        else:
            packed += _POSTING.pack(docnum, weight, len(value))
            packed += value
            self.currentsize += _POSTING.size + len(value)

    def iter_postings(self):
        unpack, size = _POSTING.unpack_from, _POSTING.size
        for fieldname in sorted(self.fields):
            terms = self.fields[fieldname]
            for text in sorted(terms):
                packed = terms[text]
                at, end = 0, len(packed)
                while at < end:
                    docnum, weight, length = unpack(packed, at)
                    at += size
                    if length == _NO_VALUE:
                        yield fieldname, text, docnum, weight, None
                    else:
                        yield fieldname, text, docnum, weight, bytes(packed[at : at + length])
                        at += length

    def cleanup(self) -> None:
        self.fields = {}
        self.currentsize = 0
