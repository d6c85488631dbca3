"""The relays' own framing removed from relayed mail bodies, per marketplace.

The example mails are written for these tests. Neither Amazon nor CDON publishes a
specification of its relay mail body, so their shapes follow what is public: for
Amazon, relayed buyer-seller messages as quoted in public seller-tooling code and
forum posts (delimiter lines between runs of dashes, localized per marketplace; an
order/item header; a retention notice, "Was this email helpful?" and a copyright
line after the message); for CDON, the example mails in CDON's merchant help centre
("Kommunikation med era kunder": customer service's preamble ending in "Kunds
meddelande:"; errand mails naming errand type, errand id and order numbers). None of
them comes from Parley's sandbox.
"""

from __future__ import annotations

import pytest

from parley_connectors.email_relay import (
    RelayMarketplace,
    parse_inbound,
    unframe,
)
from parley_normalizer.domain.threads import preview


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def plain_mail(sender: str, subject: str, body: str) -> bytes:
    return crlf(
        f"From: {sender}\n"
        "To: shop-1-amazon-de-5f3a9c1e7b2d@inbound.parley.example\n"
        f"Subject: {subject}\n"
        "Date: Tue, 03 Mar 2026 10:15:00 +0100\n"
        "Message-ID: <framing-1@email.amazonses.com>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        f"{body}\n"
    )


AMAZON_EN = """\
You have received a message.

Order ID: 114-5652017-6650426
Item: Wireless Headphones, Black
ASIN: B0C1234XYZ
Quantity: 1

------------- Message: -------------

Hello,

the left earpiece is silent since yesterday.
Can I get a replacement?

Thanks, Ann

------------- End message -------------

For Your Information: To help arbitrate disputes and preserve trust and safety, we
retain all messages buyers and sellers send through Amazon.com for two years.
Amazon's Buyer-Seller Messaging Service retains copies of these messages.

Was this email helpful?
Yes | No

Copyright 2026 Amazon.com, Inc. or its affiliates. All rights reserved.
[commMgrTok:A1B2C3D4E5]"""

AMAZON_EN_TEXT = (
    "Hello,\n\nthe left earpiece is silent since yesterday.\nCan I get a replacement?"
    "\n\nThanks, Ann"
)


def test_amazon_english_keeps_the_buyers_text_and_the_facts_of_the_header() -> None:
    """English delimiters ("Message:" / "End message"), an "Order ID/Item/ASIN/Quantity"
    header and the retention notice: the shape of relayed Amazon.com mail quoted in
    public seller tooling."""
    mail = parse_inbound(
        plain_mail(
            "Ann - Amazon Marketplace <ann0123456789ab@marketplace.amazon.com>",
            "Question from Amazon customer Ann",
            AMAZON_EN,
        )
    )

    assert mail.text == AMAZON_EN_TEXT
    assert mail.order_id == "114-5652017-6650426"  # not in the subject: from the header
    assert mail.thread_id.startswith("order:114-5652017-6650426:")
    assert mail.framing.product_id == "B0C1234XYZ"
    assert mail.framing.product_title == "Wireless Headphones, Black"
    framing = mail.summary()["framing"]
    assert framing["before"].startswith("You have received a message.")
    assert "retains copies" in framing["after"] and "[commMgrTok:" in framing["after"]
    # the discussion's preview is built from the body: the buyer's words only
    assert preview(mail.text).startswith("Hello, the left earpiece is silent")
    assert "Order ID" not in preview(mail.text)


def test_amazon_german_delimiters_and_the_compact_order_header() -> None:
    """German delimiters ("Anfang der Nachricht" / "Ende der Nachricht") as relayed by
    Amazon.de, and the compact header ("# <order>:" then "1 / <title> [ASIN: …]") seen
    in relayed mails quoted in public seller tooling."""
    body = """\
Sie haben eine Nachricht erhalten.

# 302-1234567-7654321:
1 / Organisches Kältemittel RS 500 g [ASIN: B0FIXTURE1]

------------- Anfang der Nachricht -------------

Guten Tag,
mein Paket ist nicht angekommen. Die Sendungsnummer zeigt „zugestellt“.

------------- Ende der Nachricht -------------

War diese E-Mail hilfreich?
Copyright 2026 Amazon.com, Inc. oder Tochtergesellschaften."""
    mail = parse_inbound(
        plain_mail(
            "=?UTF-8?Q?J=C3=BCrgen?= - Amazon Marketplace <k7m2x9q4w1ab3cd@marketplace.amazon.de>",
            "Paket nicht angekommen (Bestellung: 302-1234567-7654321)",
            body,
        )
    )

    assert mail.text == (
        "Guten Tag,\nmein Paket ist nicht angekommen. Die Sendungsnummer zeigt „zugestellt“."
    )
    assert mail.order_id == "302-1234567-7654321"
    assert mail.framing.product_id == "B0FIXTURE1"
    assert mail.framing.product_title == "Organisches Kältemittel RS 500 g"


def test_amazon_french_delimiters_and_notice() -> None:
    """French delimiters ("Début du message" / "Fin du message") and the French notice
    lines ("Cet e-mail a-t-il été utile ?", "Droits d'auteur"), as matched by public
    tooling that reads Amazon.fr relay mail."""
    body = """\
Vous avez reçu un message.

Numéro de commande : 171-7654321-1234567
Article : Lampe de bureau LED

------------- Début du message -------------

Bonjour,
la lampe clignote -- est-ce normal ?
Cordialement, Léa

------------- Fin du message -------------

Cet e-mail a-t-il été utile ?
Droits d'auteur 2026 Amazon.com, Inc. ou ses filiales."""
    unframed = unframe(body, RelayMarketplace.AMAZON)

    assert unframed.text == "Bonjour,\nla lampe clignote -- est-ce normal ?\nCordialement, Léa"
    assert unframed.order_id == "171-7654321-1234567"
    assert unframed.product_title == "Lampe de bureau LED"
    assert unframed.product_id is None


def test_amazon_english_start_with_a_localized_end_line() -> None:
    """Relayed mail quoted in public tooling pairs the English "Message:" opener with a
    localized closing line (Spanish "Finalizar mensaje")."""
    body = (
        "Ha recibido un mensaje.\n\n# 301-0000001-0000001:\n1 / Cable USB-C [ASIN: B0CABLE001]"
        "\n\n------------- Message:  -------------\n\nNo funciona el cable.\n\n"
        "------------- Finalizar mensaje -------------"
    )
    unframed = unframe(body, "amazon")
    assert unframed.text == "No funciona el cable."
    assert unframed.product_id == "B0CABLE001"


def test_amazon_html_only_mail_is_unframed_after_its_text_is_read() -> None:
    """An HTML-only relay mail (html_text turns it into lines first), with the same
    English delimiters and notice as the plain-text shape above."""
    raw = crlf(
        """\
From: Ann - Amazon Marketplace <ann0123456789ab@marketplace.amazon.co.uk>
To: shop-1-amazon-uk-5f3a9c1e7b2d@inbound.parley.example
Subject: Inquiry from Amazon customer Ann (Order: 204-1111111-2222222)
Message-ID: <framing-html@email.amazonses.com>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><style>td {font: 12px Arial}</style></head><body>
<p>You have received a message.</p>
<table><tr><td>Order ID:</td><td>204-1111111-2222222</td></tr>
<tr><td>Item:</td><td>Garden hose 20&nbsp;m</td></tr></table>
<p>------------- Message: -------------</p>
<p>Hi, the hose arrived <b>without</b> the connector.</p><p>Ann</p>
<p>------------- End message -------------</p>
<p>Was this email helpful? <a href="https://www.amazon.co.uk/survey">Yes</a></p>
<p>&copy; 2026 Amazon.com, Inc. or its affiliates</p>
</body></html>
"""
    )
    mail = parse_inbound(raw)

    assert mail.text == "Hi, the hose arrived without the connector.\n\nAnn"
    assert mail.order_id == "204-1111111-2222222"
    assert "Was this email helpful?" in mail.framing.after


def test_amazon_notice_without_delimiters_is_removed_after_the_header() -> None:
    """A relay mail without delimiter lines: the header paragraph (naming the order)
    and the trailing notice are removed, the buyer's text in between is kept."""
    body = (
        "Order ID: 114-5652017-6650426\nQuantity: 2\n\nWhere is my order?\n\n\n"
        "Was this email helpful?\nCopyright 2026 Amazon.com, Inc."
    )
    unframed = unframe(body, RelayMarketplace.AMAZON)
    assert unframed.text == "Where is my order?"
    assert unframed.order_id == "114-5652017-6650426"
    assert unframed.after.startswith("Was this email helpful?")


def test_cdon_customer_service_preamble_is_removed() -> None:
    """CDON's help centre shows the mail its customer service sends when a customer's
    message reached CDON instead of the merchant: a Swedish preamble ending with
    "Kunds meddelande:", then the customer's message."""
    body = """\
Hej,

Kund har kontaktat oss angående denna beställning men det har hamnat hos oss
istället för hos er som säljer produkten. Vi klistrar in meddelandet här.
Ert svar på detta meddelande går direkt till kunden.

Kunds meddelande:
Hej! Jag har fått fel färg på tröjan, kan jag byta den?
/Åsa"""
    mail = parse_inbound(
        crlf(
            "From: CDON Kundservice <reply+77aa@errands.cdon.se>\n"
            "To: shop-1-cdon-se-a1b2c3d4e5f6@inbound.parley.example\n"
            "Subject: Leverans - Åsa via CDON - Ordernummer: 42277358\n"
            "Message-ID: <errand-7001@errands.cdon.se>\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n" + body + "\n"
        )
    )

    assert mail.text == "Hej! Jag har fått fel färg på tröjan, kan jag byta den?\n/Åsa"
    assert mail.order_id == "42277358"
    assert mail.summary()["framing"]["before"].endswith("Kunds meddelande:")


def test_cdon_errand_header_lines_are_removed() -> None:
    """CDON's help centre says an errand mail names the errand type, the errand id and
    the order number(s), a Quality and a Legacy one during the migration; the Legacy
    one is what CDON Connect and the legacy order API know."""
    body = (
        "Errand type: Complaint\nErrand ID: 880123\nOrder number (Quality): 5001234567\n"
        "Order number (Legacy): 42277358\n\nThe zipper broke after one week."
    )
    unframed = unframe(body, RelayMarketplace.CDON)
    assert unframed.text == "The zipper broke after one week."
    assert unframed.order_id == "42277358"


@pytest.mark.parametrize(
    ("marketplace", "body"),
    [
        ("amazon", "Hello, is this in stock?"),
        ("amazon", "Hej!\n\nProdukten är trasig & jag vill ha en ny.\n\n- Artikel: hörlurar"),
        # header-like lines that name no order or item are the buyer's
        ("amazon", "Item: the blue lamp\nQuantity: 2\n\nBoth arrived broken."),
        # a notice-like line that opens the text is the buyer's
        ("amazon", "Was this email helpful? Not at all.\nI still have no parcel."),
        ("cdon", "Hej!\n\nVar är mitt paket? Ordernummer: 42277358"),
        # CDON's opening label far down a long text is the buyer quoting it
        ("cdon", "\n".join(f"rad {n}" for n in range(40)) + "\nKunds meddelande:\nHej"),
        # delimiters with nothing between them: keep the text rather than nothing
        ("amazon", "------------- Message: -------------\n\n------------- End message ---"),
    ],
)
def test_a_body_without_recognised_framing_is_unchanged(marketplace: str, body: str) -> None:
    """Written for this test: bodies with no relay framing, or with something that only
    resembles it."""
    unframed = unframe(body, marketplace)
    assert unframed.text == body
    assert not unframed.framed


def test_a_buyers_own_dashes_are_kept() -> None:
    """Written for this test: dash runs in the buyer's text, alone and around words,
    inside and outside of Amazon's delimiters (the English shape above)."""
    own = "Size 42 --- not 44!\n------------------\n----- my list -----\n- socks\n- shoes"
    assert unframe(own, "amazon").text == own
    assert unframe(own, "cdon").text == own
    framed = f"------------- Message: -------------\n{own}\n------------- End message -------------"
    assert unframe(framed, "amazon").text == own


def test_unknown_text_before_the_opening_delimiter_stays_the_buyers() -> None:
    """Written for this test: a buyer's new words above an older relayed mail their mail
    program quoted without "> " marks (the English shape above); only the delimiter
    lines and the notice after the closing one go."""
    body = (
        "Thanks, that works for me!\n\nOn 3 Mar 2026, Amazon Marketplace wrote:\n"
        "------------- Message: -------------\nWe can send a new one today.\n"
        "------------- End message -------------\n\nWas this email helpful?"
    )
    unframed = unframe(body, RelayMarketplace.AMAZON)
    assert unframed.text == (
        "Thanks, that works for me!\n\nOn 3 Mar 2026, Amazon Marketplace wrote:\n"
        "We can send a new one today."
    )
    assert unframed.before == "------------- Message: -------------"
