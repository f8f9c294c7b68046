"""The system speaks Simplified Chinese (the default) and English, completely.

The catalog checks read locale/zh_Hans/LC_MESSAGES/django.po itself: every entry translated, none
fuzzy, every placeholder kept, the compiled .mo (committed, so a clean checkout speaks Chinese)
matching it, and no message in the code or templates missing from it. The template scan finds text
a person would read that never went through {% translate %}.
"""

import re
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.utils import translation

from checkout.models import Payment, Register, Sale
from checkout.pricing import LineInput, PaymentInput
from checkout.services import sale_complete, shift_open
from stock.models import MovementKind
from stock.services import Move, stock_move_batch
from supermarket.roles import CASHIER, user_set_role
from tests.factories import ProductFactory

ROOT = Path(settings.BASE_DIR)
LOCALE = ROOT / "locale"
PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Exactly the command the catalog is made with (README / docs): these paths hold no shipped text.
MAKEMESSAGES_IGNORES = [".venv", "bench", "tests", "staticfiles", "static/vendor"]
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%%")

# Text in templates that is the same in every language: key caps and the currency sign.
UNTRANSLATED_ALLOWED = re.compile(r"^[(（]?(?:F\d{1,2}|Esc|Enter|P|¥)[)）]?$")
# The content of these blocks is a CSS class, not text.
NOT_TEXT = re.compile(
    r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}"
    r"|\{%\s*blocktrans(?:late)?\b.*?\{%\s*endblocktrans(?:late)?\s*%\}"
    r"|\{%\s*block body_class\s*%\}.*?\{%\s*endblock\s*%\}",
    re.S,
)
TEMPLATE_SYNTAX = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)
READ_ATTRIBUTES = {"title", "placeholder", "alt", "aria-label", "label"}


def catalog() -> polib.POFile:
    return polib.pofile(str(PO))


def test_every_catalog_entry_is_translated_and_none_is_fuzzy():
    po = catalog()
    assert len(po) > 500, "the catalog looks truncated"
    untranslated = [e.msgid for e in po if not e.obsolete and not e.translated()]
    fuzzy = [e.msgid for e in po if "fuzzy" in e.flags]
    assert untranslated == []
    assert fuzzy == []
    assert po.metadata["Plural-Forms"].startswith("nplurals=1;")


def test_translations_keep_every_placeholder():
    wrong = []
    for entry in catalog():
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        sources = {entry.msgid, entry.msgid_plural} - {""}
        wanted = [sorted(PLACEHOLDER.findall(s)) for s in sources]
        wrong += [(entry.msgid, t) for t in translations if sorted(PLACEHOLDER.findall(t)) not in wanted]
    assert wrong == []


def test_translations_are_chinese():
    # A msgstr copied from the msgid passes "translated"; Han characters in each one says it was done.
    han = re.compile(r"[\u4e00-\u9fff]")
    same_in_chinese = {"+%(quantity)s %(product)s"}
    english = [
        e.msgid
        for e in catalog()
        if e.msgid not in same_in_chinese and not han.search(" ".join([e.msgstr, *e.msgstr_plural.values()]))
    ]
    assert english == []


def test_compiled_catalog_matches_the_po():
    mo = {(e.msgctxt, e.msgid): (e.msgstr, dict(e.msgstr_plural)) for e in polib.mofile(str(MO))}
    po = {(e.msgctxt, e.msgid): (e.msgstr, dict(e.msgstr_plural)) for e in catalog() if not e.obsolete}
    stale = {key for key in po if mo.get(key) != po[key]}
    assert not stale, (
        f"{len(stale)} entries differ from the .mo: run manage.py compilemessages, e.g. {sorted(stale)[:3]}"
    )


def _copy_sources(target: Path) -> None:
    skipped = {ROOT / p for p in [*MAKEMESSAGES_IGNORES, ".git", "var", "node_modules"]}

    def ignore(directory, names):
        return [
            n
            for n in names
            if Path(directory, n) in skipped or n == "__pycache__" or n.endswith((".mo", ".sqlite3", ".pyc"))
        ]

    shutil.copytree(ROOT, target, ignore=ignore, symlinks=True)


def test_catalog_is_up_to_date_with_the_code(tmp_path):
    """makemessages over a copy of the tree finds no message the committed catalog lacks, nor the reverse."""
    copy = tmp_path / "tree"
    _copy_sources(copy)
    ignores = [f"--ignore={p}" for p in MAKEMESSAGES_IGNORES]
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", *ignores],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    fresh = polib.pofile(str(copy / PO.relative_to(ROOT)))
    wanted = {(e.msgctxt, e.msgid) for e in fresh if not e.obsolete}
    have = {(e.msgctxt, e.msgid) for e in catalog() if not e.obsolete}
    assert sorted(wanted - have, key=str) == [], "messages in the code but not in the catalog: run makemessages"
    assert sorted(have - wanted, key=str) == [], "catalog entries no longer in the code: run makemessages"


class _VisibleText(HTMLParser):
    """Collects text nodes and read-aloud attributes that still contain letters."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self.hidden_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden_depth += 1
        attributes = dict(attrs)
        for name, value in attributes.items():
            if not value or not re.search(r"[A-Za-z]", value):
                continue
            shown = (
                name in READ_ATTRIBUTES
                or (name == "value" and tag in ("input", "button") and attributes.get("type") != "hidden")
                # A data attribute that reads as a sentence is a message a script shows.
                or (name.startswith("data-") and re.search(r"[A-Za-z] [A-Za-z]", value))
            )
            if shown:
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.hidden_depth -= 1

    def handle_data(self, data):
        text = data.strip()
        if not self.hidden_depth and re.search(r"[A-Za-z]", text) and not UNTRANSLATED_ALLOWED.match(text):
            self.found.append(text)


def untranslated_text(source: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(TEMPLATE_SYNTAX.sub(" ", NOT_TEXT.sub(" ", source)))
    return parser.found


def test_the_template_scan_finds_unmarked_text():
    # The scan itself: plain text and a read-aloud attribute are caught, translated text is not.
    source = (
        '{% load i18n %}<p>Total due</p><button title="Close">{% translate "Pay" %}</button>'
        '<div data-msg="Try again later"></div><input type="hidden" name="a" value="dismiss">'
        "<kbd>F9</kbd>{% blocktranslate %}Left {{ n }}{% endblocktranslate %}"
    )
    assert untranslated_text(source) == ["Total due", "<button title='Close'>", "<div data-msg='Try again later'>"]


def test_no_template_shows_text_not_marked_for_translation():
    found = {
        str(path.relative_to(ROOT)): text
        for path in sorted((ROOT / "templates").rglob("*.html"))
        if (text := untranslated_text(path.read_text(encoding="utf-8")))
    }
    assert found == {}


# Pages ---------------------------------------------------------------------------------------


@pytest.fixture
def cashier(db):
    user = get_user_model().objects.create_user("till-lang", password="till-lang-pass-1")
    user_set_role(user=user, role=CASHIER)
    return user


@pytest.fixture
def till_client(client, cashier, floor):
    register = Register.objects.create(code="L01", name="收银台 L", location=floor)
    shift_open(register=register, opening_float=Decimal("100.00"), user=cashier)
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})
    client.register = register
    return client


def test_login_page_follows_the_browser_language(client, db):
    chinese = client.get("/checkout/login/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    english = client.get("/checkout/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "收银员登录" in chinese and '<html lang="zh-hans">' in chinese
    assert "Cashier login" in english and "收银员登录" not in english


def test_till_has_a_language_switcher_and_remembers_the_choice(till_client, cashier):
    page = till_client.get("/checkout/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'action="/i18n/setlang/"' in page and 'name="language" value="zh-hans"' in page
    assert "Scan the first item." in page

    answer = till_client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/checkout/"})
    assert answer.status_code == 302 and answer.url == "/checkout/"
    cookie = answer.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "zh-hans" and int(cookie["max-age"]) >= 30 * 24 * 3600

    # The browser still asks for English; the cashier's choice wins, on every till message.
    page = till_client.get("/checkout/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "请扫描第一件商品。" in page and "Scan the first item." not in page
    assert 'data-confirm-cancel="取消本单？"' in page
    assert '<button type="submit" name="language" value="zh-hans" aria-current="true">' in page

    # Logging out ends the session, not the language.
    till_client.post("/checkout/logout/")
    assert "收银员登录" in till_client.get("/checkout/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    till_client.post("/i18n/setlang/", {"language": "en", "next": "/checkout/login/"})
    assert "Cashier login" in till_client.get("/checkout/login/").content.decode()


def test_receipt_shows_yuan_and_the_store_time_in_chinese(till_client, cashier, floor):
    product = ProductFactory(selling_price=Decimal("1234.50"), name="大米 10kg")
    stock_move_batch(moves=[Move(product, floor, Decimal(5))], kind=MovementKind.RECEIPT)
    sale = sale_complete(
        client_token=uuid.uuid4(),
        register=till_client.register,
        lines=[LineInput(product=product, quantity=Decimal(2))],
        payments=[PaymentInput("cash", Decimal("2500"))],
        user=cashier,
    ).sale
    # 16:30 UTC on New Year's Eve is already 00:30 on 1 January in Shanghai.
    Sale.objects.filter(pk=sale.pk).update(created_at=datetime(2025, 12, 31, 16, 30, 5, tzinfo=UTC))

    till_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = till_client.get(f"/checkout/sales/{sale.number}/receipt/").content.decode()
    assert "2026-01-01 00:30:05" in page
    assert 'id="receipt-total">¥2469.00<' in page and 'id="receipt-change">¥31.00<' in page
    assert "谢谢惠顾" in page and "合计" in page

    till_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = till_client.get(f"/checkout/sales/{sale.number}/receipt/").content.decode()
    assert 'id="receipt-total">¥2,469.00<' in page and "Thank you for shopping with us." in page


@pytest.mark.parametrize(
    ("language", "value", "shown"),
    [
        ("en", Decimal("1234.5"), "¥1,234.50"),
        ("zh-hans", Decimal("1234.5"), "¥1234.50"),
        ("zh-hans", Decimal("2.005"), "¥2.01"),
        ("en", Decimal("-3.6"), "-¥3.60"),
        ("en", 0, "¥0.00"),
        ("en", None, ""),
        ("en", "not a number", ""),
    ],
)
def test_yuan_filter(language, value, shown):
    with translation.override(language):
        assert Template("{% load yuan %}{{ v|yuan }}").render(Context({"v": value})) == shown


def test_model_labels_and_choices_come_out_in_chinese():
    with translation.override("zh-hans"):
        assert str(Sale._meta.verbose_name) == "销售"
        assert {str(label) for _, label in Payment._meta.get_field("method").choices} >= {"现金", "微信支付", "支付宝"}
