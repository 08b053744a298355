"""Reading the CSV files people save from spreadsheets: UTF-8 with or without a byte-order
mark, or GBK (read as its superset GB18030) as Chinese Excel saves "CSV"; cells separated
by commas or, as Excel does in many locales, semicolons."""

from __future__ import annotations


def decode_table(data: bytes) -> str:
    """The text of an uploaded table; UnicodeDecodeError when it is neither encoding."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def delimiter_of(text: str) -> str:
    """ ";" when the header row has more semicolons than commas, else ","."""
    header = text.removeprefix("\ufeff").split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","
