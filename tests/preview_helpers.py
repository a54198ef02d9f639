"""Reading the Preview card of a connection page: its headers, its cells and its messages."""

import html
import re
from html.parser import HTMLParser

FORMATTED = "OData.Community.Display.V1.FormattedValue"


class PreviewTable(HTMLParser):
    """The preview table's header texts and its rows of (text, title) cells."""

    def __init__(self):
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[list[tuple[str, str]]] = []
        self._inside = self._cell = None
        self._text: list[str] = []
        self._title = ""
        self._in_table = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and "preview-table" in (attrs.get("class") or ""):
            self._in_table = True
        if not self._in_table:
            return
        if tag == "tr" and self._inside == "tbody":
            self.rows.append([])
        if tag in ("thead", "tbody"):
            self._inside = tag
        if tag in ("th", "td"):
            self._cell, self._text, self._title = tag, [], attrs.get("title") or ""

    def handle_endtag(self, tag):
        if not self._in_table:
            return
        if tag in ("th", "td") and self._cell:
            text = " ".join(" ".join(self._text).split())
            if tag == "th":
                self.headers.append(text)
            elif self.rows:
                self.rows[-1].append((text, self._title))
            self._cell = None
        if tag == "table":
            self._in_table = False

    def handle_data(self, data):
        if self._cell:
            self._text.append(data)


def preview_table(response) -> PreviewTable:
    parser = PreviewTable()
    parser.feed(response.content.decode())
    return parser


def text_of(response, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|div)>', response.content.decode(), re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split()) if found else ""


def failure(response) -> str:
    found = re.search(r'id="preview-failed"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split()) if found else ""
