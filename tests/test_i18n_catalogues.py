"""The interface text's gettext catalogues (sandbox/web/locale): every message id the
templates and the Python code use is translated in both locales (found by Babel's extraction,
as scripts/i18n does), count messages have real plural forms, and the checker catches a
message a catalogue lacks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_support import add_user, login

from sandbox.web import i18n_check
from sandbox.web.i18n import LOCALE_DIR, messages, read_catalogue, translator
from sandbox.web.templating import environment_for, render_text

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def extracted() -> dict[str, i18n_check.Used]:
    return i18n_check.extract()


def test_every_message_used_is_translated_in_both_catalogues(
    extracted: dict[str, i18n_check.Used],
) -> None:
    used = extracted
    # Extraction reads both kinds of source: a template's t(), a route's viewer.t(), tn().
    assert used["nav.logout"].places[0].startswith("sandbox/web/templates/base.html:")
    assert used["login.failed"].places[0].startswith("sandbox/web/routes/auth.py:")
    assert used["catalogue.count"].plural and not used["nav.logout"].plural
    assert len(used) > 300
    assert i18n_check.check(used=used) == []
    for locale in ("en", "zh-CN"):
        catalogue = read_catalogue(locale)
        for key in used:
            message = catalogue.get(key)
            assert message is not None and message.string, (locale, key)


def test_both_locales_have_the_same_ids_and_fields() -> None:
    en, zh = messages("en"), messages("zh-CN")
    assert set(en) == set(zh) and len(en) > 500
    assert (
        i18n_check.compare_locales({"en": read_catalogue("en"), "zh-CN": read_catalogue("zh-CN")})
        == []
    )


@pytest.mark.parametrize(
    ("locale", "key", "one", "two"),
    [
        ("en", "mentor.attempts.count", "1 attempt", "2 attempts"),
        ("en", "form.has_errors", "the 1 problem marked", "the 2 problems marked"),
        ("en", "monitor.scenarios", "1 scenario", "2 scenarios"),
        ("en", "release.pending.open_appeals", "1 appeal is open.", "2 appeals are open."),
        ("zh-CN", "mentor.attempts.count", "共 1 条记录", "共 2 条记录"),
        ("zh-CN", "form.has_errors", "1 处问题", "2 处问题"),
    ],
)
def test_count_messages_have_plural_forms(locale: str, key: str, one: str, two: str) -> None:
    t = translator(locale)
    assert one in t.tn(key, 1) and two in t.tn(key, 2)
    assert "(s)" not in t.tn(key, 1) + t.tn(key, 2)


def test_templates_use_plural_forms_through_every_way_the_extension_offers() -> None:
    source = (
        "{{ tn('mentor.attempts.count', n) }}|"
        "{% trans count=n %}mentor.attempts.count{% pluralize %}mentor.attempts.count{% endtrans %}|"
        "{{ ngettext('mentor.attempts.count', 'mentor.attempts.count', n, count=n) }}|"
        "{{ _('nav.signed_in_as', name=who) }}"
    )
    english = environment_for("en").from_string(source)
    assert english.render(n=1, who="<b>") == (
        "1 attempt|1 attempt|1 attempt|Signed in as &lt;b&gt;"
    )
    assert english.render(n=2, who="tao").startswith("2 attempts|2 attempts|2 attempts|")
    chinese = environment_for("zh-CN").from_string(source)
    assert chinese.render(n=1, who="tao") == "共 1 条记录|共 1 条记录|共 1 条记录|当前用户：tao"


def test_a_page_says_one_scenario_and_three_scenarios(app: FastAPI, client: TestClient) -> None:
    add_user(app, "tao")
    login(client, "tao")
    one = client.get("/?language=zh-CN").text
    assert one.count('class="card" id="scenario-') == 1 and ">1 scenario<" in one
    every = client.get("/").text
    shown = every.count('class="card" id="scenario-')
    assert shown > 1 and f">{shown} scenarios<" in every
    chinese = client.get("/?language=zh-CN", headers={"Accept-Language": "zh-CN"}).text
    assert ">共 1 个情景<" in chinese


def test_a_block_renders_in_the_locale_of_its_translator() -> None:
    for locale, words in (
        ("zh-CN", ["共 0 个情景", "没有符合"]),
        ("en", ["0 scenarios", "No scenario"]),
    ):
        html = render_text(
            "catalogue.html", {"t": translator(locale), "rows": []}, block="scenario_list"
        )
        assert all(word in html for word in words), (locale, html)


def copy_locale(tmp_path: Path) -> Path:
    target = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, target)
    return target


def test_the_checker_catches_a_message_missing_from_a_catalogue(tmp_path: Path) -> None:
    templates = tmp_path / "sandbox" / "web" / "templates"
    templates.mkdir(parents=True)
    (templates / "new.html").write_text(
        "<p>{{ t('nav.login') }}</p>\n<p>{{ t('report.brand_new_heading') }}</p>\n"
        "<p>{{ tn('nav.logout', 2) }}</p>\n<p>{{ t('exam.times_local') }}</p>\n",
        encoding="utf-8",
    )
    (tmp_path / "sandbox" / "web" / "new.py").write_text(
        'def page(viewer):\n    return viewer.t("error.brand_new_refusal")\n', encoding="utf-8"
    )
    shutil.copy(ROOT / "babel.cfg", tmp_path / "babel.cfg")
    used = i18n_check.extract(tmp_path)
    assert set(used) == {
        "nav.login",
        "report.brand_new_heading",
        "nav.logout",
        "exam.times_local",
        "error.brand_new_refusal",
    }
    problems = i18n_check.check(tmp_path, used=used, template=False)
    text = "\n".join(problems)
    assert (
        "report.brand_new_heading: missing from the en catalogue (used at sandbox/web/templates/new.html:2)"
        in text
    )
    assert "report.brand_new_heading: missing from the zh_CN catalogue" in text
    assert (
        "error.brand_new_refusal: missing from the en catalogue (used at sandbox/web/new.py:2)"
        in text
    )
    assert "nav.logout: the en catalogue has it singular (t)" in text
    assert "nav.login" not in text
    assert (
        "exam.times_local: its text has the fields ['zone'], but t('exam.times_local') at "
        "sandbox/web/templates/new.html:4 gives none"
    ) in text
    assert "error.brand_new_refusal: its text" not in text
    # The .pot no longer matches what the source uses.
    assert "messages.pot is out of date" in "\n".join(i18n_check.check(tmp_path, used=used))


def test_a_call_without_the_fields_of_its_message_shows_the_text_and_does_not_fail() -> None:
    t = translator("en")
    assert t("exam.times_local") == "Times are in your time zone (%(zone)s)."
    assert t("exam.times_local", zone="UTC") == "Times are in your time zone (UTC)."
    assert t("exam.written_weight") == "Written weight (%)"
    assert t("no.such.key") == "no.such.key"


def test_update_adds_new_ids_untranslated_and_the_check_asks_for_them(
    tmp_path: Path, extracted: dict[str, i18n_check.Used]
) -> None:
    locale_dir = copy_locale(tmp_path)
    used = dict(extracted)
    used["report.brand_new_count"] = i18n_check.Used("report.brand_new_count", plural=True)
    i18n_check.write_template(used, locale_dir)
    added = i18n_check.update(locale_dir)
    assert added == [
        "en/LC_MESSAGES/messages.po: report.brand_new_count",
        "zh_CN/LC_MESSAGES/messages.po: report.brand_new_count",
    ]
    assert i18n_check.update(locale_dir) == []  # nothing more to add; nothing removed
    zh = (locale_dir / "zh_CN" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    assert (
        'msgid "report.brand_new_count"\nmsgid_plural "report.brand_new_count"\nmsgstr[0] ""' in zh
    )
    en = (locale_dir / "en" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    assert 'msgstr[1] ""' in en and 'msgid "nav.login"' in en  # the old entries stay
    problems = i18n_check.check(locale_dir=locale_dir, used=used)
    assert problems == [
        "report.brand_new_count: no en translation (used at )",
        "report.brand_new_count: no zh_CN translation (used at )",
    ]


def test_update_turns_an_entry_plural_or_singular_as_its_calls_now_are(
    tmp_path: Path, extracted: dict[str, i18n_check.Used]
) -> None:
    locale_dir = copy_locale(tmp_path)
    used = dict(extracted)
    used["nav.logout"] = i18n_check.Used("nav.logout", plural=True)
    used["catalogue.count"] = i18n_check.Used("catalogue.count", plural=False)
    i18n_check.write_template(used, locale_dir)
    assert sorted(i18n_check.update(locale_dir)) == [
        "en/LC_MESSAGES/messages.po: catalogue.count (fuzzy)",
        "en/LC_MESSAGES/messages.po: nav.logout (fuzzy)",
        "zh_CN/LC_MESSAGES/messages.po: catalogue.count (fuzzy)",
        "zh_CN/LC_MESSAGES/messages.po: nav.logout (fuzzy)",
    ]
    en = (locale_dir / "en" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    assert (
        '#, fuzzy\nmsgid "nav.logout"\nmsgid_plural "nav.logout"\nmsgstr[0] "Log out"\nmsgstr[1] ""'
        in en
    )
    assert '#, fuzzy\nmsgid "catalogue.count"\nmsgstr "%(count)s scenario"' in en
    problems = i18n_check.check(locale_dir=locale_dir, used=used)
    assert "nav.logout: the en translation is marked fuzzy" in problems
    assert "catalogue.count: the zh_CN translation is marked fuzzy" in problems


def test_the_checker_catches_broken_format_strings_and_unequal_fields(tmp_path: Path) -> None:
    locale_dir = copy_locale(tmp_path)
    zh_po = locale_dir / "zh_CN" / "LC_MESSAGES" / "messages.po"
    text = zh_po.read_text(encoding="utf-8")
    text = text.replace('msgstr "笔试权重（%%）"', 'msgstr "笔试权重（%）"')
    text = re.sub(r'(msgid "nav.signed_in_as"\nmsgstr ")[^"]*"', r'\1已登录：%(user)s"', text)
    zh_po.write_text(text, encoding="utf-8")
    problems = i18n_check.check(locale_dir=locale_dir, used={}, template=False)
    assert any(p.startswith("exam.written_weight (zh_CN): a lone %") for p in problems), problems
    assert any(
        p.startswith(
            "nav.signed_in_as: the locales name different fields: en ['name']; zh_CN ['user']"
        )
        for p in problems
    ), problems
    assert i18n_check.format_problems("%(ww)s%% + %(pw)s%%") == ({"ww", "pw"}, [])
    assert i18n_check.format_problems("%s apples")[1]


def test_scripts_i18n_reports_complete_catalogues(capsys: pytest.CaptureFixture[str]) -> None:
    assert i18n_check.main(["check"]) == 0
    out = capsys.readouterr().out
    assert "the catalogues are complete" in out


def test_the_cli_counts_in_english_with_singular_and_plural(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sandbox.cli.main import app as cli
    from sandbox.cli.output import counted

    assert (counted(1, "attempt"), counted(0, "attempt"), counted(2, "match", "matches")) == (
        "1 attempt",
        "0 attempts",
        "2 matches",
    )
    env = {
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}",
        "SANDBOX_VAR_DIR": str(tmp_path / "var"),
    }
    one = tmp_path / "one.csv"
    one.write_text("name,role,password\ntao,trainee,trainee-pass\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["users", "import", str(one)], env=env)
    assert result.exit_code == 0 and "imported 1 user\n" in result.output, result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("name,role,password\nmei,wizard,mentor-pass\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["users", "import", str(bad)], env=env)
    assert result.exit_code == 2 and "nothing imported: 1 problem\n" in result.output
