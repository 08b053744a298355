"""Keeping the interface catalogues: extract the message ids that templates and Python code
use, add new ones to the .po files, check the catalogues. `scripts/i18n` runs it; the tests
run `check` (tests/test_i18n_catalogues.py).

    python -m sandbox.web.i18n_check [extract | update | check | all]   (default: all)

- extract: Babel's extraction over the files `babel.cfg` names, with KEYWORDS, into
  `sandbox/web/locale/messages.pot` (message ids only: no source locations, sorted, so the
  file changes only when an id does);
- update: every id of the .pot that a locale's .po lacks is added to it, untranslated (a
  plural id with one empty form per plural form of the locale). Nothing is removed: a third of
  the keys are built at run time (`status.<code>`) or held in constants, where extraction
  cannot see them, so `pybabel update` would wrongly make them obsolete;
- check: the problems below, one line each; `all` runs the three and fails on a problem.

The checks: every extracted id is in both catalogues, translated (each plural form) and not
fuzzy, singular or plural as its call is (`t`/`_` singular, `tn`/`ngettext` plural); both
locales have the same ids; each msgstr is a %-format string with named fields only
(`%(name)s`, a literal `%%`), and each locale names the same fields; each catalogue compiles;
the .pot holds what extraction finds.
"""

from __future__ import annotations

import ast
import io
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from jinja2 import Environment, nodes

from sandbox.web.i18n import DOMAIN, LOCALE_DIR, LOCALES, catalogue_name

ROOT = Path(__file__).resolve().parents[2]
#: The calls that name a message id (`pybabel extract -k ...` as Babel's keyword specs: the
#: first argument unless numbered; `tn:1,1` is a plural whose two ids are the one key). The
#: last three are the places that hand a key on to be worded later: a refused review
#: (`ReviewError(field, key)`, from the core), a socket's notice, an error page.
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "t": None,
    "_": None,
    "gettext": None,
    "N_": None,
    "tn": (1, 1),
    "ngettext": (1, 2),
    "ReviewError": (2,),
    "notice": None,
    "_error_page": (3,),
}
POT = "messages.pot"
# A %-format directive: `%%`, or `%(name)` with flags, width, precision and a conversion.
DIRECTIVE = re.compile(r"%(?:%|\((?P<name>[^)]*)\)[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa])")


@dataclass
class Used:
    """A message id as the source uses it: where, and whether as a plural."""

    key: str
    plural: bool
    places: list[str] = field(default_factory=list)


def extract(root: Path = ROOT, mapping: Path | None = None) -> dict[str, Used]:
    """Every message id the files under `root` that `babel.cfg` names use, by key."""
    with (mapping or root / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    found: dict[str, Used] = {}
    for path, line, message, _comments, _context in extract_from_dir(
        str(root), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        plural = isinstance(message, tuple)
        key = message[0] if isinstance(message, tuple) else message
        used = found.setdefault(key, Used(key, plural))
        place = f"{path}:{line}"
        if used.plural != plural:
            used.places.append(f"{place} (as {'plural' if plural else 'singular'})")
        else:
            used.places.append(place)
    return found


def bare_calls(root: Path = ROOT) -> list[tuple[str, str]]:
    """Each `t('key')` call with no fields, in the templates and the Python code under
    `root`, as (key, where): a message with fields that such a call shows would print its
    `%(name)s` instead of a value."""
    found: list[tuple[str, str]] = []
    parser = Environment(extensions=["jinja2.ext.i18n"])
    for path in sorted((root / "sandbox" / "web" / "templates").glob("**/*.html")):
        tree = parser.parse(path.read_text(encoding="utf-8"))
        for call in tree.find_all(nodes.Call):
            if (
                isinstance(call.node, nodes.Name)
                and call.node.name == "t"
                and len(call.args) == 1
                and isinstance(call.args[0], nodes.Const)
                and isinstance(call.args[0].value, str)
                and not call.kwargs
                and call.dyn_kwargs is None
            ):
                found.append((call.args[0].value, f"{path.relative_to(root)}:{call.lineno}"))
    for path in sorted((root / "sandbox").glob("**/*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or node.keywords or len(node.args) != 1:
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            argument = node.args[0]
            if (
                name == "t"
                and isinstance(argument, ast.Constant)
                and isinstance(argument.value, str)
            ):
                found.append((argument.value, f"{path.relative_to(root)}:{node.lineno}"))
    return found


def template_of(used: dict[str, Used]) -> Catalog:
    """The .pot catalogue of the extracted ids."""
    catalog = Catalog(project="sandbox", domain=DOMAIN, fuzzy=False)
    for key, item in sorted(used.items()):
        catalog.add((key, key) if item.plural else key)
    return catalog


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def write(path: Path, catalog: Catalog, *, template: bool = False) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, sort_output=True, no_location=True, omit_header=template)
    if not path.exists() or path.read_bytes() != buffer.getvalue():
        path.write_bytes(buffer.getvalue())


def po_path(locale_dir: Path, locale: str) -> Path:
    return locale_dir / catalogue_name(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"


def write_template(used: dict[str, Used], locale_dir: Path = LOCALE_DIR) -> Path:
    """Write messages.pot; it changes only when the set of ids (or a plural) does."""
    path = locale_dir / POT
    write(path, template_of(used), template=True)
    return path


def update(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """Add the .pot's new ids to each locale's .po, untranslated; what was added."""
    template = read(locale_dir / POT)
    added: list[str] = []
    for locale in LOCALES:
        path = po_path(locale_dir, locale)
        catalog = read(path, catalogue_name(locale))
        forms = catalog.num_plurals
        for message in template:
            if not message.id:
                continue
            key = _key(message)
            plural = isinstance(message.id, tuple)
            old = catalog.get(key)
            if old is not None and isinstance(old.id, tuple) == plural:
                continue
            text = _forms(old)[0] if old is not None else ""
            string: str | tuple[str, ...] = (text,) + ("",) * (forms - 1) if plural else text
            if old is not None:
                del catalog[key]  # Babel's add would keep an old plural entry plural
            catalog.add(message.id, string, flags=["fuzzy"] if old is not None else [])
            added.append(f"{path.relative_to(locale_dir)}: {key}" + (" (fuzzy)" if old else ""))
        write(path, catalog)
    return added


def _key(message: Message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else str(message.id)


def _forms(message: Message) -> tuple[str, ...]:
    string = message.string
    return tuple(string) if isinstance(string, (tuple, list)) else (string or "",)


def format_problems(text: str) -> tuple[set[str], list[str]]:
    """The field names of a %-format message, and what is wrong with it."""
    names: set[str] = set()
    problems: list[str] = []
    end = 0
    for match in DIRECTIVE.finditer(text):
        if "%" in text[end : match.start()]:
            problems.append(f"a lone % (write %% for a percent sign) in {text!r}")
        end = match.end()
        if match.group("name") is not None:
            names.add(match.group("name"))
    if "%" in text[end:]:
        problems.append(f"a lone % (write %% for a percent sign) in {text!r}")
    if not problems:
        try:
            text % {name: 0 for name in names}
        except (ValueError, TypeError, KeyError) as error:
            problems.append(f"not a %-format string ({error}) in {text!r}")
    return names, problems


def check(
    root: Path = ROOT,
    locale_dir: Path = LOCALE_DIR,
    *,
    used: dict[str, Used] | None = None,
    template: bool = True,
) -> list[str]:
    """Every problem of the catalogues in `locale_dir` for the ids used under `root`."""
    used = extract(root) if used is None else used
    problems: list[str] = []
    catalogs = {
        locale: read(po_path(locale_dir, locale), catalogue_name(locale)) for locale in LOCALES
    }
    for key, item in sorted(used.items()):
        where = ", ".join(item.places[:3]) + (" …" if len(item.places) > 3 else "")
        for locale, catalog in catalogs.items():
            name = catalogue_name(locale)
            message = catalog.get(key)
            if message is None:
                problems.append(f"{key}: missing from the {name} catalogue (used at {where})")
                continue
            if isinstance(message.id, tuple) != item.plural:
                want = "plural (tn/ngettext)" if isinstance(message.id, tuple) else "singular (t)"
                problems.append(f"{key}: the {name} catalogue has it {want}; used at {where}")
            if not all(_forms(message)):
                problems.append(f"{key}: no {name} translation (used at {where})")
            if message.fuzzy:
                problems.append(f"{key}: the {name} translation is marked fuzzy")
    problems += compare_locales(catalogs)
    english = catalogs.get("en")
    for key, where in bare_calls(root) if english is not None else []:
        message = english.get(key) if english is not None else None
        fields = (
            sorted(set().union(*(format_problems(f)[0] for f in _forms(message))))
            if message
            else []
        )
        if fields:
            problems.append(
                f"{key}: its text has the fields {fields}, but t('{key}') at {where} gives none"
            )
    for locale, catalog in catalogs.items():
        try:
            write_mo(io.BytesIO(), catalog)
        except Exception as error:  # a catalogue that does not compile, whatever the cause
            problems.append(f"{catalogue_name(locale)}: does not compile: {error}")
    if template:
        pot = locale_dir / POT
        current = (
            {(_key(m), isinstance(m.id, tuple)) for m in read(pot) if m.id}
            if pot.exists()
            else set()
        )
        wanted = {(key, item.plural) for key, item in used.items()}
        if current != wanted:
            problems.append(f"{pot.name} is out of date: run scripts/i18n")
    return problems


def compare_locales(catalogs: dict[str, Catalog]) -> list[str]:
    """Both catalogues have the same ids; each msgstr is a good %-format string naming the
    same fields in every locale."""
    problems: list[str] = []
    fields: dict[str, dict[str, set[str]]] = {}
    for locale, catalog in catalogs.items():
        name = catalogue_name(locale)
        for message in catalog:
            if not message.id:
                continue
            key = _key(message)
            names: set[str] = set()
            for form in _forms(message):
                found, wrong = format_problems(form)
                names |= found
                problems += [f"{key} ({name}): {problem}" for problem in wrong]
            fields.setdefault(key, {})[name] = names
    locales = [catalogue_name(locale) for locale in catalogs]
    for key, by_locale in sorted(fields.items()):
        missing = [name for name in locales if name not in by_locale]
        if missing:
            problems.append(f"{key}: missing from the {', '.join(missing)} catalogue")
            continue
        if len({frozenset(value) for value in by_locale.values()}) > 1:
            shown = "; ".join(f"{name} {sorted(value)}" for name, value in by_locale.items())
            problems.append(f"{key}: the locales name different fields: {shown}")
    return problems


def unused(used: dict[str, Used], locale_dir: Path = LOCALE_DIR) -> list[str]:
    """Ids of the English catalogue that extraction does not find (built at run time, held
    in constants, or no longer used)."""
    catalog = read(po_path(locale_dir, "en"), "en")
    return sorted(_key(m) for m in catalog if m.id and _key(m) not in used)


def main(argv: Sequence[str] = ()) -> int:
    steps: Iterable[str] = argv or ["all"]
    known = {"extract", "update", "check", "all"}
    if not set(steps) <= known or not steps:
        print(__doc__)
        return 2
    used = extract()
    if {"extract", "all"} & set(steps):
        print(f"i18n: {len(used)} message ids used; wrote {write_template(used).relative_to(ROOT)}")
    if {"update", "all"} & set(steps):
        added = update()
        for line in added:
            print(f"i18n: added {line}: translate it")
        print(f"i18n: {len(added)} new entries in the catalogues")
    if {"check", "all"} & set(steps):
        problems = check(used=used)
        for problem in problems:
            print(f"i18n: {problem}", file=sys.stderr)
        others = unused(used)
        print(
            f"i18n: {len(others)} catalogue ids are not found by extraction (keys built at "
            "run time or held in constants; the tests list those)"
        )
        if problems:
            print(f"i18n: {len(problems)} problems", file=sys.stderr)
            return 1
        print("i18n: the catalogues are complete")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
