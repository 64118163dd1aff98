"""USPTO full-text / front-page XML (ICE DTD v4.x): weekly files of concatenated `<?xml` documents.

Each document (`us-patent-grant` or `us-patent-application`) is cut out of the stream line by
line and parsed on its own, so memory holds one document at a time. The first document decides
whether the file is supported; older USPTO formats (pre-2005 application XML, SGML `PATDOC`,
greenbook text) are rejected naming the format. A later document that is not well-formed or
not a patent is quarantined by its 1-based document number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pyarrow as pa
from lxml import etree

from ingest.headers import ColumnMap
from ingest.sources import IngestError, SourceBatch, SourceRow, SourceTable

SUPPORTED_ROOTS = ("us-patent-grant", "us-patent-application")
_KNOWN_UNSUPPORTED = {
    "patent-application-publication": "USPTO pre-grant publication XML v1.x (2001-2004)",
    "PATDOC": "USPTO SGML-derived grant XML (ST.32, 2001-2004)",
    "ep-patent-document": "EPO publication XML",
    "cpcMaster": "a CPC scheme file",
}
# where each field comes from, for quarantine reasons
_ELEMENTS = {
    "publication_number": "publication-reference/document-id",
    "application_number": "application-reference/document-id",
    "application_date": "application-reference/document-id/date",
    "publication_date": "publication-reference/document-id/date",
    "ipc": "classifications-ipcr",
    "cpc": "classifications-cpc",
    "cited_publications": "references-cited",
    "claims_count": "number-of-claims",
}
_PARSER = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False, huge_tree=True, recover=False)
# every field a document gives; the columns of a batch, in this order (headers name the elements)
_FIELD_OF = [*_ELEMENTS, "title", "abstract", "applicants", "applicant_addresses", "inventors", "patent_type"]
_COLUMNS = ColumnMap(columns={field: [i] for i, field in enumerate(_FIELD_OF)},
                     headers=[_ELEMENTS.get(f, f) for f in _FIELD_OF], unmapped=[])
_NAME_LISTS = ("applicants", "applicant_addresses", "inventors")
_LIST_SEPARATORS = re.compile(r"[;；|\n\r]")
_BATCH_DOCUMENTS = 2048


def read_uspto_xml(label: str, opener: Callable[[], BinaryIO]) -> SourceTable:
    documents = _documents(label, opener)
    first = next(documents, None)
    if first is None:
        raise IngestError(f"{label}: an XML file with no documents")
    root = _root_name(first)
    if root not in SUPPORTED_ROOTS:
        what = _KNOWN_UNSUPPORTED.get(root, f"XML with root <{root}>")
        raise IngestError(f"{label}: {what} is not supported; patent XML must be USPTO ICE v4.x"
                          f" ({' or '.join(SUPPORTED_ROOTS)})")

    def rows() -> Iterator[SourceRow | SourceBatch]:
        """Documents in batches for the columnar record builder; a document whose names hold a list
        separator goes alone through the row builder (which takes its lists as they are), in file order."""
        pending: list[SourceRow] = []
        for position, document in enumerate(_chain(first, documents), start=1):
            row = _row(position, document)
            if row.values is not None and _joinable(row.values):
                pending.append(row)
                if len(pending) >= _BATCH_DOCUMENTS:
                    yield _batch(pending)
                    pending = []
                continue
            if pending:
                yield _batch(pending)
                pending = []
            yield row
        if pending:
            yield _batch(pending)

    return SourceTable(label, "uspto-xml", "utf-8", _COLUMNS, rows())


@dataclass
class _DocumentBatch(SourceBatch):
    """Documents as text columns; the quarantine shows a rejected document's opening, as for a single row."""

    heads: list[str] = field(default_factory=list)

    def raw(self, index: int) -> str:
        return self.heads[index]


def _joinable(values: dict[str, object]) -> bool:
    """Whether the lists can travel joined by `;` and be split back unchanged: no name holds a separator."""
    return not any(_LIST_SEPARATORS.search(item) for name in _NAME_LISTS for item in values.get(name) or ())


def _batch(rows: list[SourceRow]) -> _DocumentBatch:
    columns = []
    for name in _FIELD_OF:
        cells = [row.values.get(name) for row in rows]
        columns.append(pa.array([";".join(c) if isinstance(c, list) else c for c in cells], pa.string()))
    cells = pa.RecordBatch.from_arrays(columns, names=[f"c{i}" for i in range(len(_FIELD_OF))])
    return _DocumentBatch(np.array([row.position for row in rows], dtype=np.int64), cells, [row.cells[0] for row in rows])


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


_READ_BYTES = 8 << 20
_OPENING = b"<?xml"


def _documents(label: str, opener: Callable[[], BinaryIO]) -> Iterator[bytes]:
    """Split the stream where a line opens a new `<?xml` declaration.

    Read in 8 MB buffers and cut with bytes.find, so Python never touches a line; only the
    unfinished last document of a buffer is carried into the next read.
    """
    with opener() as handle:
        buffer = b""
        while True:
            data = handle.read(_READ_BYTES)
            buffer = buffer + data if buffer else data
            start = 0
            search = 1  # the declaration at the very start opens the current document
            while True:
                found = buffer.find(b"\n" + _OPENING, search)
                if found < 0:
                    break
                document = buffer[start:found + 1]
                if document.strip():
                    yield document
                start = found + 1
                search = start + 1
            buffer = buffer[start:]
            if not data:
                break
    if buffer.strip():
        yield buffer


def _root_name(document: bytes) -> str:
    head = re.sub(rb"<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", b"", document[:20000], flags=re.S)
    match = re.search(rb"<([A-Za-z][\w.\-]*)", head)
    return match.group(1).decode() if match else "?"


def _row(position: int, document: bytes) -> SourceRow:
    cells = [document[:2000].decode("utf-8", errors="replace")]
    try:
        root = etree.fromstring(_without_full_text(document.lstrip(b"\xef\xbb\xbf")), _PARSER)
    except etree.XMLSyntaxError as exc:
        return SourceRow(position, None, cells, f"document is not well-formed XML ({exc})", "document")
    if root.tag not in SUPPORTED_ROOTS:
        return SourceRow(position, None, cells, f"<{root.tag}> is not a patent document", "document")
    return SourceRow(position, _values(root), cells)


_FULL_TEXT = (b"description", b"claims")  # most of a full-text document's bytes; no record field comes from them


def _without_full_text(document: bytes) -> bytes:
    """The document without its <description> and <claims> elements, which lxml then need not parse.

    Each is cut from its start tag to its last end tag, so what is left stays well-formed; damage
    inside them no longer quarantines a document whose bibliographic data reads cleanly.
    """
    for tag in _FULL_TEXT:
        start = document.find(b"<" + tag)
        end = document.rfind(b"</" + tag + b">")
        if 0 <= start < end and document[start + len(tag) + 1:start + len(tag) + 2] in (b" ", b">", b"\n", b"\r", b"\t"):
            document = document[:start] + document[end + len(tag) + 3:]
    return document


def _values(root: etree._Element) -> dict[str, object]:
    biblio = root.find("us-bibliographic-data-grant")
    if biblio is None:
        biblio = root.find("us-bibliographic-data-application")
    if biblio is None:
        return {}
    publication = biblio.find("publication-reference/document-id")
    application_ref = biblio.find("application-reference")
    application = application_ref.find("document-id") if application_ref is not None else None
    appl_type = application_ref.get("appl-type") if application_ref is not None else None
    # The assignee owns the patent; without one, the applicants (often the inventors) do.
    filers = _parties(biblio, "us-parties/us-applicants/us-applicant") or _parties(biblio, "parties/applicants/applicant")
    applicants = _parties(biblio, "assignees/assignee") or filers
    inventors = (_parties(biblio, "us-parties/inventors/inventor") or _parties(biblio, "parties/inventors/inventor")
                 or _parties(biblio, "us-parties/us-applicants/us-applicant", inventors_only=True)
                 or _parties(biblio, "parties/applicants/applicant", inventors_only=True))
    return {
        "publication_number": _document_number(publication),
        "application_number": _document_number(application, with_kind=False),
        "application_date": _text(application, "date"),
        "publication_date": _text(publication, "date"),
        "title": _all_text(biblio.find("invention-title")),
        "abstract": _all_text(root.find("abstract")),
        "applicants": [name for name, _address in applicants],
        "applicant_addresses": [applicants[0][1]] if applicants and applicants[0][1] else [],
        "inventors": [name for name, _address in inventors],
        "ipc": _ipcr(biblio) or _ipc_edition(biblio),
        "cpc": [_code(c) for c in biblio.iterfind("classifications-cpc//classification-cpc")],
        "cited_publications": _citations(biblio),
        "claims_count": _text(biblio, "number-of-claims"),
        "patent_type": {"utility": "utility patent", "design": "design"}.get(appl_type or ""),
    }


def _text(element, path: str) -> str | None:
    if element is None:
        return None
    text = element.findtext(path)
    return (text.strip() or None) if text else None


def _all_text(element) -> str | None:
    if element is None:
        return None
    text = re.sub(r"\s+", " ", "".join(element.itertext())).strip()
    return text or None


def _document_number(document_id, with_kind: bool = True) -> str | None:
    if document_id is None:
        return None
    parts = {child.tag: child.text for child in document_id}  # one pass over the children, not three finds
    number = _NUMBER_NOISE.sub("", parts.get("doc-number") or "")
    if not number:
        return None
    kind = (parts.get("kind") or "").strip() if with_kind else ""
    return f"{(parts.get('country') or '').strip()}{number}{kind}"


_NUMBER_NOISE = re.compile(r"[\s,/]")


def _parties(biblio, path: str, inventors_only: bool = False) -> list[tuple[str, str]]:
    out = []
    for party in biblio.iterfind(path):
        if inventors_only and party.get("app-type") != "applicant-inventor":
            continue
        book = party.find("addressbook")
        if book is None:
            continue
        parts = _child_texts(book)
        address = book.find("address")
        places = _child_texts(address) if address is not None else {}
        name = parts.get("orgname") or " ".join(p for p in (parts.get("first-name"), parts.get("last-name")) if p)
        if not name:
            continue
        address_text = ", ".join(p for p in (places.get(k) for k in ("city", "state", "country")) if p)
        out.append((name, address_text))
    return out


def _child_texts(element) -> dict[str, str | None]:
    """Each child tag's first text, stripped (None when empty): one pass instead of a find per field."""
    texts: dict[str, str | None] = {}
    for child in element:
        tag = child.tag
        if tag not in texts and isinstance(tag, str):
            text = child.text
            texts[tag] = (text.strip() or None) if text else None
    return texts


def _code(element) -> str:
    parts = _child_texts(element)
    return "{}{}{}{}/{}".format(*(parts.get(k) or "" for k in ("section", "class", "subclass", "main-group", "subgroup")))


def _ipcr(biblio) -> list[str]:
    return [_code(c) for c in biblio.iterfind("classifications-ipcr/classification-ipcr")]


def _ipc_edition(biblio) -> list[str]:
    """DTD v4.0/4.1 `classification-ipc`: `A45F  504` is subclass A45F, group 5, subgroup 04."""
    out = []
    element = biblio.find("classification-ipc")
    if element is None:
        return out
    for item in [element.find("main-classification"), *element.iterfind("further-classification")]:
        text = (item.text or "") if item is not None else ""
        if "/" in text:
            out.append(text)
        elif len(text.strip()) > 4:
            out.append(f"{text[:4]}{text[4:7].strip()}/{text[7:].strip()}")
    return out


def _citations(biblio) -> list[str]:
    """Patent citations that carry a publication number; literature citations have none."""
    out = []
    # `references-cited/citation` (v4.0–4.4) or `us-references-cited/us-citation` (v4.5+): named paths,
    # not a search of the whole bibliographic subtree
    for document_id in _PATENT_CITATIONS(biblio):
        number = _document_number(document_id)
        if number and _CITED_NUMBER.fullmatch(number):
            out.append(number)
    return out


_PATENT_CITATIONS = etree.XPath("references-cited/citation/patcit/document-id"
                                 " | us-references-cited/us-citation/patcit/document-id")
_CITED_NUMBER = re.compile(r"[A-Z]{2}[A-Z]{0,2}\d{3,13}[A-Z]?\d?")
