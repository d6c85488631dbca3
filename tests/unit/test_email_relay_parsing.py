"""Reading relayed buyer mail (Amazon- and CDON-like samples written for these tests),
deriving conversations from it, and building the reply."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from parley_connectors.email_relay import (
    OutgoingAttachment,
    RelayMarketplace,
    RelayPayloadError,
    build_reply,
    html_to_text,
    message_ids,
    new_inbound_address,
    parse_inbound,
    relay_for,
    reply_message_id,
    reply_references,
    reply_subject,
    thread_id_for,
)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


AMAZON_ALTERNATIVE = crlf(
    """\
Return-Path: <k7m2x9q4w1ab3cd@marketplace.amazon.de>
From: "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= - Amazon Marketplace"
 <K7M2X9Q4W1AB3CD@marketplace.amazon.de>
To: shop-1-amazon-de-5f3a9c1e7b2d@inbound.parley.example
Subject: =?UTF-8?Q?Anfrage_zur_Lieferung_von_Amazon-Kunde_J=C3=BCrgen?=
 (Bestellung: 302-1234567-7654321)
Date: Tue, 03 Mar 2026 10:15:00 +0100
Message-ID: <0100018e-abcd-1234@email.amazonses.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Guten Tag,=0A=0Awo bleibt meine Lieferung? Die Gr=C3=B6=C3=9Fe ist 42.=
 Bitte um R=C3=BCckmeldung.

[commMgrTok:A1B2C3D4E5]
--alt
Content-Type: text/html; charset=UTF-8

<html><body><p>Guten Tag,</p><p>HTML version</p></body></html>
--alt--

--outer
Content-Type: application/pdf; name="=?UTF-8?Q?Rechnung_M=C3=A4rz.pdf?="
Content-Disposition: attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf
Content-Transfer-Encoding: base64

"""
    + base64.encodebytes(PDF).decode()
    + """
--outer
Content-Type: image/png
Content-Disposition: inline
Content-Transfer-Encoding: base64

"""
    + base64.encodebytes(PNG).decode()
    + """
--outer--
"""
)

CDON_HTML_ONLY = crlf(
    """\
From: CDON Kundservice <reply+9f8e7d6c@errands.cdon.se>
To: shop-1-cdon-se-a1b2c3d4e5f6@inbound.parley.example
Subject: SV: Reklamation - Ordernummer: 42277358
Date: Wed, 04 Mar 2026 08:00:00 +0000
Message-ID: <errand-5566@errands.cdon.se>
In-Reply-To: <parley.abc@inbound.parley.example>
References: <errand-5500@errands.cdon.se>
 <parley.abc@inbound.parley.example>
MIME-Version: 1.0
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<html><head><style>p {color: red}</style></head><body>
<p>Hej!</p><p>Produkten =E4r trasig &amp; jag vill ha en ny.</p>
<ul><li>Artikel: h=F6rlurar</li><li>Antal: 1</li></ul>
</body></html>
"""
)


def test_amazon_multipart_alternative_prefers_text_plain_and_reads_everything() -> None:
    mail = parse_inbound(AMAZON_ALTERNATIVE)

    assert mail.relay.marketplace is RelayMarketplace.AMAZON
    assert mail.message_id == "0100018e-abcd-1234@email.amazonses.com"
    assert mail.buyer_address == "k7m2x9q4w1ab3cd@marketplace.amazon.de"
    assert mail.buyer_name == "Jürgen Müller"
    assert mail.order_id == "302-1234567-7654321"
    assert mail.subject is not None and "Jürgen" in mail.subject
    assert mail.text.startswith("Guten Tag,\n\nwo bleibt meine Lieferung? Die Größe ist 42.")
    assert "HTML version" not in mail.text
    assert mail.sent_at == datetime(2026, 3, 3, 9, 15, tzinfo=UTC)
    assert mail.recipients == ("shop-1-amazon-de-5f3a9c1e7b2d@inbound.parley.example",)
    names = [(a.name, a.content_type, a.content) for a in mail.attachments]
    assert names == [
        ("Rechnung März.pdf", "application/pdf", PDF),
        ("attachment-2.png", "image/png", PNG),
    ]
    assert mail.thread_id.startswith("order:302-1234567-7654321:")


def test_cdon_html_only_becomes_text_and_threads_by_order() -> None:
    mail = parse_inbound(CDON_HTML_ONLY)

    assert mail.relay.marketplace is RelayMarketplace.CDON
    assert mail.order_id == "42277358"
    assert mail.topic == "Reklamation - Ordernummer: 42277358"
    assert (
        mail.text
        == "Hej!\n\nProdukten är trasig & jag vill ha en ny.\n\n- Artikel: hörlurar\n- Antal: 1"
    )
    assert mail.in_reply_to == "parley.abc@inbound.parley.example"
    assert mail.references == ("errand-5500@errands.cdon.se", "parley.abc@inbound.parley.example")
    assert mail.buyer_name == "CDON Kundservice"
    assert mail.attachments == ()


def _mail(headers: str, body: str = "Hello, is this in stock?") -> bytes:
    return crlf(
        f"{headers}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    )


def test_thread_without_order_id_follows_the_references_root() -> None:
    first = parse_inbound(
        _mail(
            "From: Ann - Amazon Marketplace <ann123@marketplace.amazon.co.uk>\n"
            "Subject: Product details inquiry from Amazon customer Ann\n"
            "Message-ID: <q1@amazon.example>"
        )
    )
    follow_up = parse_inbound(
        _mail(
            "From: Ann - Amazon Marketplace <ann123@marketplace.amazon.co.uk>\n"
            "Subject: RE: Re: Product details inquiry from Amazon customer Ann\n"
            "Message-ID: <q3@amazon.example>\n"
            "In-Reply-To: <parley.r2@inbound.parley.example>\n"
            "References: <q1@amazon.example> <parley.r2@inbound.parley.example>"
        )
    )
    assert first.order_id is None
    assert first.thread_id == "ref:q1@amazon.example"
    assert follow_up.thread_id == first.thread_id
    assert follow_up.topic == "Product details inquiry from Amazon customer Ann"


def test_same_order_different_buyers_are_different_threads() -> None:
    one = thread_id_for(order_id="111-1111111-1111111", buyer_address="a@x", message_id="m1")
    two = thread_id_for(order_id="111-1111111-1111111", buyer_address="b@x", message_id="m2")
    again = thread_id_for(order_id="111-1111111-1111111", buyer_address="A@X", message_id="m3")
    assert one != two
    assert one == again


def test_order_id_is_read_from_the_body_when_the_subject_has_none() -> None:
    mail = parse_inbound(
        _mail(
            "From: bob@marketplace.amazon.com\nSubject: Question\nMessage-ID: <b1@x>",
            "Order ID: 114-5652017-6650426\nWhere is it?",
        )
    )
    assert mail.order_id == "114-5652017-6650426"
    assert mail.buyer_name is None


def test_a_mail_without_message_id_gets_a_stable_one() -> None:
    raw = _mail("From: bob@marketplace.amazon.com\nSubject: Hi")
    assert parse_inbound(raw).message_id == parse_inbound(raw).message_id
    assert parse_inbound(raw).message_id.endswith("@parley.invalid")


def test_unknown_charset_costs_characters_not_the_message() -> None:
    raw = crlf(
        "From: bob@marketplace.amazon.com\nMessage-ID: <c@x>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=x-unknown-charset\n\nplain words\n"
    )
    assert parse_inbound(raw).text == "plain words"


def test_an_attached_email_is_kept_whole() -> None:
    raw = crlf(
        "From: bob@marketplace.amazon.com\nMessage-ID: <f@x>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nSee the forwarded mail.\n"
        "--b\nContent-Type: message/rfc822\n\n"
        "From: carrier@example.com\nSubject: Delivery failed\n\nWe could not deliver.\n"
        "--b--\n"
    )
    mail = parse_inbound(raw)
    assert mail.text == "See the forwarded mail."
    assert [a.name for a in mail.attachments] == ["attachment-1.eml"]
    assert b"We could not deliver." in mail.attachments[0].content


def test_attachment_names_lose_paths_and_control_characters() -> None:
    raw = crlf(
        "From: bob@marketplace.amazon.com\nMessage-ID: <p@x>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nphoto attached\n"
        "--b\nContent-Type: image/jpeg\n"
        'Content-Disposition: attachment; filename="..\\\\..\\\\evil\x07.jpg"\n'
        "Content-Transfer-Encoding: base64\n\n/9j/4AAQ\n"
        "--b--\n"
    )
    mail = parse_inbound(raw)
    assert [a.name for a in mail.attachments] == ["evil.jpg"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_mail("From: someone@example.com\nMessage-ID: <s@x>"), "not a marketplace relay"),
        (_mail("Subject: no sender\nMessage-ID: <s@x>"), "not a marketplace relay"),
        (_mail("From: bob@marketplace.amazon.com\nMessage-ID: <e@x>", "   "), "neither text"),
        (b"\x00\xff garbage without headers", "not a marketplace relay"),
    ],
)
def test_mail_that_is_not_a_readable_buyer_message_is_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(RelayPayloadError, match=reason):
        parse_inbound(raw)


def test_attachment_only_mail_is_accepted() -> None:
    raw = crlf(
        "From: bob@marketplace.amazon.com\nMessage-ID: <a@x>\nMIME-Version: 1.0\n"
        "Content-Type: application/pdf\nContent-Disposition: attachment; filename=label.pdf\n"
        "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(PDF).decode()
    )
    mail = parse_inbound(raw)
    assert mail.text == ""
    assert [(a.name, a.content) for a in mail.attachments] == [("label.pdf", PDF)]


def test_relay_domains() -> None:
    assert relay_for("x@marketplace.amazon.com") is not None
    assert relay_for("x@marketplace.amazon.com.br") is not None
    assert relay_for("x@Marketplace.Amazon.co.uk") is not None
    assert relay_for("x@amazon.com") is None
    assert relay_for("x@marketplace.amazon.com.evil.example") is None
    assert relay_for("x@cdon.fi") is not None
    assert relay_for("x@notcdon.se") is None


def test_html_to_text_keeps_structure_and_drops_what_is_not_shown() -> None:
    html = (
        "<html><head><title>T</title><script>alert(1)</script></head><body>"
        "<div>Hello&nbsp;<b>there</b>,</div><p>see <a href='https://example.com/x'>this</a>"
        "</p>a &lt; b<br>line two</body></html>"
    )
    assert html_to_text(html) == (
        "Hello there,\nsee this <https://example.com/x>\n\na < b\nline two"
    )


def test_reply_is_threaded_plain_text_to_the_relay_address() -> None:
    message = build_reply(
        sender="shop-1-amazon-de-5f3a9c1e7b2d@inbound.parley.example",
        sender_name="Shop One",
        to="k7m2x9q4w1ab3cd@marketplace.amazon.de",
        to_name="Jürgen Müller",
        subject="Anfrage von Amazon-Kunde Jürgen (Bestellung: 302-1234567-7654321)",
        body="Hallo Jürgen,\n\ndas Paket ist unterwegs.",
        in_reply_to="m2@amazon",
        references=["m1@amazon", "m2@amazon"],
        message_id="parley.1@inbound.parley.example",
        attachments=[OutgoingAttachment("Lieferschein März.pdf", PDF)],
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["To"].addresses[0].addr_spec == "k7m2x9q4w1ab3cd@marketplace.amazon.de"
    assert parsed["Subject"].startswith("Re: Anfrage von Amazon-Kunde Jürgen")
    assert parsed["In-Reply-To"] == "<m2@amazon>"
    assert message_ids(parsed["References"]) == ["m1@amazon", "m2@amazon"]
    assert parsed["Message-ID"] == "<parley.1@inbound.parley.example>"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().strip() == "Hallo Jürgen,\n\ndas Paket ist unterwegs."
    attachments = list(parsed.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["Lieferschein März.pdf"]
    assert attachments[0].get_content_type() == "application/pdf"


def test_reply_subject_and_references() -> None:
    assert reply_subject("Re: Question") == "Re: Question"
    assert reply_subject("AW: Frage") == "AW: Frage"
    assert reply_subject(None) == "Re: Your message"
    assert reply_references("ref:root@x", ["a@x", "root@x", "b@x"]) == ["root@x", "a@x", "b@x"]
    chain = reply_references("order:1:2", [f"m{i}@x" for i in range(50)])
    assert chain[0] == "m0@x" and chain[-1] == "m49@x" and len(chain) == 20
    assert reply_message_id("d.example", "t", "b") == reply_message_id("d.example", "t", "b")
    assert reply_message_id("d.example", "t", "b") != reply_message_id("d.example", "t", "c")


def test_inbound_addresses_are_unguessable_and_on_the_domain() -> None:
    one = new_inbound_address("Shop 1", "amazon-de", "inbound.parley.example")
    two = new_inbound_address("Shop 1", "amazon-de", "inbound.parley.example")
    assert one != two
    assert one.startswith("shop-1-amazon-de-") and one.endswith("@inbound.parley.example")
    with pytest.raises(ValueError):
        new_inbound_address("s", "m", "localhost")


@pytest.mark.parametrize(
    ("marketplace", "tld", "format_"),
    [("amazon", "fr", "alternative"), ("cdon", "dk", "html"), ("cdon", None, "text")],
)
def test_the_sandbox_relay_writes_mail_the_parser_reads(
    marketplace: str, tld: str | None, format_: str
) -> None:
    from parley_sandbox.smtp_sink import InboundMailIn, relay_message

    message, order_id = relay_message(
        InboundMailIn.model_validate(
            {
                "to": "shop@inbound.parley.example",
                "body": "Hej!\n\nVar är mitt paket?",
                "marketplace": marketplace,
                "tld": tld,
                "format": format_,
                "buyer_name": "Åsa",
            }
        )
    )
    mail = parse_inbound(message.as_bytes())
    assert mail.relay.marketplace.value == marketplace
    assert mail.order_id == order_id and order_id is not None
    assert mail.buyer_name == "Åsa"
    assert mail.text == "Hej!\n\nVar är mitt paket?"
