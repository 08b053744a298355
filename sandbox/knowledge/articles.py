"""Reading knowledge articles (docs/knowledge.md): Markdown with a YAML front matter.

An article file is `*.md`, starting with a `---` line, the front matter (id, title,
locale, trade, tags; optionally kind), a closing `---` line and the Markdown body. Every
problem is reported as FILE:LINE with the key, as a pack's are, and nothing of a broken
article is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from sandbox.scenarios.errors import PackError
from sandbox.scenarios.yamlnodes import YamlError, read_yaml

BUNDLED_KNOWLEDGE = FsPath(__file__).resolve().parents[2] / "knowledge"
MAX_ARTICLE_BYTES = 256 * 1024
MAX_TITLE_CHARS = 200
MAX_TAGS = 20
LOCALES = ("en", "zh-CN")
TRADES = ("pharmacy", "aesthetics", "other")
KINDS = ("monograph", "rule", "procedure", "other")
KEYS = ("id", "title", "locale", "trade", "tags", "kind")
REQUIRED = ("id", "title", "locale", "trade", "tags")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

LINK_OUT = (
    "a symbolic link that leads out of the knowledge folder; skipped "
    "(copy the article into the folder instead)"
)


@dataclass(frozen=True)
class Article:
    """One checked article: its front matter, its Markdown body and where it came from."""

    id: str
    title: str
    locale: str
    trade: str
    tags: tuple[str, ...]
    kind: str
    body: str
    source: str

    @property
    def key(self) -> str:
        """Unique over the knowledge base: the same id may exist once per locale."""
        return f"{self.locale}/{self.id}"


@dataclass
class KnowledgeSet:
    """The articles that loaded, and every problem of the files that did not."""

    articles: list[Article] = field(default_factory=list)
    errors: list[PackError] = field(default_factory=list)
    files: int = 0


def is_article_file(path: FsPath) -> bool:
    return path.suffix.lower() == ".md"


def article_files(paths: Iterable[str | FsPath]) -> Iterator[tuple[FsPath, PackError | None]]:
    """Each path as given, or every `*.md` in a folder and its subfolders (sorted); a link
    found in a folder that leads out of it comes with the error that skips it."""
    for path in paths:
        p = FsPath(path)
        if not p.is_dir():
            yield p, None
            continue
        for q in sorted(p.rglob("*.md")):
            if q.name.lower() == "readme.md" or not (q.is_file() or q.is_symlink()):
                continue
            try:
                inside = q.resolve(strict=True).is_relative_to(p.resolve(strict=True))
            except (OSError, RuntimeError):
                inside = False
            yield q, None if inside else PackError(str(q), None, None, LINK_OUT)


def load_knowledge(paths: Iterable[str | FsPath]) -> KnowledgeSet:
    """The articles of these files and folders. Broken files are skipped and reported;
    an id given twice in one locale is reported at its second file."""
    result = KnowledgeSet()
    seen: dict[str, str] = {}
    for path, refused in article_files(paths):
        result.files += 1
        if refused is not None:
            result.errors.append(refused)
            continue
        source = str(path)
        if not path.exists():
            result.errors.append(PackError(source, None, None, "no such file or folder"))
            continue
        try:
            raw = path.read_bytes()
        except OSError as exc:
            result.errors.append(PackError(source, None, None, f"cannot read: {exc.strerror}"))
            continue
        if len(raw) > MAX_ARTICLE_BYTES:
            result.errors.append(
                PackError(
                    source,
                    None,
                    None,
                    f"file is {len(raw):,} bytes; an article may be at most {MAX_ARTICLE_BYTES:,}",
                )
            )
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            result.errors.append(PackError(source, None, None, "not UTF-8 text"))
            continue
        article, problems = read_article_text(text, source)
        if article is not None and article.key in seen:
            problems.append(
                PackError(
                    source,
                    2,
                    "id",
                    f"article id {article.id!r} in {article.locale} is already used by "
                    f"{seen[article.key]}",
                )
            )
        if problems:
            result.errors.extend(problems)
            continue
        assert article is not None
        seen[article.key] = source
        result.articles.append(article)
    result.errors.sort(key=lambda e: (e.path, e.line or 0))
    return result


def read_article_text(text: str, source: str) -> tuple[Article | None, list[PackError]]:
    """One article from the text of its file, or None and its problems."""
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None, [
            PackError(
                source,
                1,
                None,
                "an article starts with a '---' line, then its front matter (id, title, "
                "locale, trade, tags), a closing '---' line and the Markdown body",
            )
        ]
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return None, [PackError(source, 1, None, "the front matter has no closing '---' line")]
    body = "\n".join(lines[end + 1 :]).strip()
    try:
        doc = read_yaml("\n".join(lines[1:end]) + "\n")
    except YamlError as exc:
        return None, [PackError(source, (exc.line or 0) + 1, exc.key, exc.message)]
    errors: list[PackError] = []

    def line_of(path: tuple[str | int, ...]) -> int:
        found = doc.line_of(path)
        return (found or 1) + 1 if found is not None else 2

    def add(key: str, message: str, path: tuple[str | int, ...] | None = None) -> None:
        errors.append(PackError(source, line_of(path or (key,)), key, message))

    errors.extend(PackError(source, (p.line or 0) + 1, p.key, p.message) for p in doc.problems)
    data = doc.data
    if not isinstance(data, dict):
        errors.append(PackError(source, 2, None, "the front matter is a mapping (id, title, ...)"))
        return None, errors
    for key in data:
        if key not in KEYS:
            add(str(key), f"unknown key {key!r} (an article has {', '.join(KEYS)})")
    for key in REQUIRED:
        if key not in data:
            errors.append(PackError(source, 1, key, f"the front matter needs '{key}'"))
    aid, title, locale, trade = (data.get(k) for k in ("id", "title", "locale", "trade"))
    kind = data.get("kind", "other")
    if "id" in data and (not isinstance(aid, str) or not _ID.match(aid)):
        add("id", f"id {aid!r} must be 1-64 lower-case letters, digits and '-'")
    if "title" in data and (
        not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_CHARS
    ):
        add("title", f"the title is text of 1 to {MAX_TITLE_CHARS} characters")
    if "locale" in data and locale not in LOCALES:
        add("locale", f"locale {locale!r} is not one of {', '.join(LOCALES)}")
    if "trade" in data and trade not in TRADES:
        add("trade", f"trade {trade!r} is not one of {', '.join(TRADES)}")
    if kind not in KINDS:
        add("kind", f"kind {kind!r} is not one of {', '.join(KINDS)}")
    tags = data.get("tags", [])
    if "tags" in data:
        if not isinstance(tags, list) or not tags or len(tags) > MAX_TAGS:
            add("tags", f"tags is a list of 1 to {MAX_TAGS} tags")
            tags = []
        for i, tag in enumerate(tags):
            if not isinstance(tag, str) or not _TAG.match(tag):
                add(
                    f"tags.{i}",
                    f"tag {tag!r} must be lower-case letters, digits and '-' (at most 40)",
                    ("tags", i),
                )
    if not body:
        errors.append(
            PackError(source, end + 1, "body", "the article has no text after its front matter")
        )
    if errors:
        return None, errors
    return (
        Article(
            id=str(aid),
            title=str(title).strip(),
            locale=str(locale),
            trade=str(trade),
            tags=tuple(str(t) for t in tags),
            kind=str(kind),
            body=body,
            source=source,
        ),
        [],
    )
