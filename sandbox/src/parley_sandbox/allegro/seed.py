"""Demo conversations of one Polish Allegro seller, in both channels.

The seller ``Lumina_Oswietlenie`` (account ``lumina``) sells lamps. Its Message Center
holds an order question with a back-and-forth, a pre-sale question on an offer, and a
buyer's photo of a damaged parcel; its post-purchase issues hold a dispute about a
parcel that never came and a claim with Allegro's staff in the chat. So every role
(customer, merchant, operator), both entity kinds (order, offer) and attachments
appear in a fresh ``make run``.

Ids derive from names (UUID v5), so a restarted sandbox serves the same ids and
Parley's idempotent ingest sees no duplicates. Times are relative to start-up.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta

from parley_sandbox.allegro.store import (
    ADMIN,
    BUYER,
    SELLER,
    AccountConfig,
    AllegroAccount,
    AllegroSandbox,
    Issue,
    StoredFile,
    Thread,
)
from parley_sandbox.seed import tiny_pdf, tiny_png

ACCOUNT = "lumina"
_NAMESPACE = uuid.UUID("0b7e4f3a-6a1d-4c55-8f0e-2d9c1a7e5b42")


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _thread_id(*parts: str) -> str:
    """Allegro-looking thread id (43 URL-safe characters), stable across restarts."""
    raw = uuid.uuid5(_NAMESPACE, "/".join(parts)).bytes * 2
    return base64.urlsafe_b64encode(raw).decode()[:43]


def _file(key: str, name: str, content_type: str, content: bytes) -> StoredFile:
    return StoredFile(_id(ACCOUNT, "file", key), name, content_type, content)


def _ago(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def _message_center(account: AllegroAccount, now: datetime) -> None:
    def thread(key: str, buyer: str) -> Thread:
        return account.open_thread(buyer, thread_id=_thread_id(ACCOUNT, key))

    order = "2b7d1d40-7f6a-11ef-9c7d-0242ac120002"
    t = thread("wysylka", "client:40011234")
    lines = [
        (
            True,
            60 * 30,
            "Dzień dobry, kiedy wyślą Państwo moje zamówienie? Lampa miała "
            "wyjść w ciągu 24 godzin, a status nadal pokazuje 'w realizacji'.",
        ),
        (
            False,
            60 * 29,
            "Dzień dobry, dziękujemy za wiadomość. Paczka wyjdzie dziś do "
            "17:00, numer przesyłki prześlemy w osobnej wiadomości.",
        ),
        (True, 35, "Nadal nie mam numeru przesyłki. Czy mogę prosić o sprawdzenie?"),
    ]
    for n, (buyer, minutes, text) in enumerate(lines):
        account.write(
            t,
            text=text,
            from_buyer=buyer,
            at=now - _ago(minutes),
            subject="Pytanie o wysyłkę" if n == 0 else None,
            order_id=order,
            message_id=_id(ACCOUNT, "wysylka", str(n)),
        )

    t = thread("pytanie-oferta", "anna_kowalska_87")
    account.write(
        t,
        text="Dzień dobry, czy lampa ma certyfikat CE i jaka jest długość przewodu? "
        "Czy żarówka E27 jest w zestawie?",
        from_buyer=True,
        at=now - _ago(18),
        subject="Pytanie o produkt",
        offer_id="17328495061",
        message_type="ASK_QUESTION",
        message_id=_id(ACCOUNT, "pytanie-oferta", "0"),
    )

    t = thread("uszkodzona", "client:40099876")
    account.write(
        t,
        text="Przesyłka dotarła, ale klosz jest pęknięty. W załączniku zdjęcie. Proszę o "
        "informację, jak wymienić towar.",
        from_buyer=True,
        at=now - _ago(60 * 5),
        order_id="6c1e2a52-8a43-11ef-b864-0242ac120002",
        files=[_file("klosz", "pekniety-klosz.png", "image/png", tiny_png((180, 40, 40)))],
        message_id=_id(ACCOUNT, "uszkodzona", "0"),
    )


def _issues(account: AllegroAccount, now: datetime) -> None:
    dispute = account.add_issue(
        Issue(
            id=_id(ACCOUNT, "issue", "nie-dotarla"),
            type="DISPUTE",
            opened_at=now - _ago(60 * 48),
            buyer_id="93975873",
            buyer_login="marek_nowak",
            order_id="94092826-f0e2-47ca-b8d1-94fd7cb82c33",
            order_created_at=now - timedelta(days=12),
            subject="nie otrzymałem towaru po wpłacie",
            status="DISPUTE_ONGOING",
            offer_id="17328495062",
        )
    )
    for n, (role, minutes, text) in enumerate(
        [
            (BUYER, 60 * 48, "Zapłaciłem 10 dni temu i paczka nadal do mnie nie dotarła."),
            (SELLER, 60 * 40, "Przepraszamy za kłopot. Sprawdzamy przesyłkę u przewoźnika."),
            (BUYER, 50, "Minęły dwa dni i nadal brak informacji. Proszę o zwrot pieniędzy."),
        ]
    ):
        account.say(
            dispute,
            text=text,
            role=role,
            at=now - _ago(minutes),
            message_id=_id(ACCOUNT, "issue", "nie-dotarla", str(n)),
        )

    claim = account.add_issue(
        Issue(
            id=_id(ACCOUNT, "issue", "reklamacja"),
            type="CLAIM",
            opened_at=now - _ago(60 * 20),
            buyer_id="81502244",
            buyer_login="ewa.wisniewska",
            order_id="fb6f7b9a-b882-4edf-b994-9dffa6c38530",
            order_created_at=now - timedelta(days=30),
            subject=None,
            status="CLAIM_SUBMITTED",
            reference_number="7/2026",
            offer_id="17328495063",
            reason={
                "type": "RECEIVED_ITEMS_NOT_MATCHING_DESCRIPTION",
                "description": "Inny odcień niż na zdjęciu",
            },
            right="COMPLAINT",
            decision_due=now + timedelta(days=13),
        )
    )
    account.say(
        claim,
        text="Lampa ma inny odcień mosiądzu niż na zdjęciach w ofercie. Załączam zdjęcie "
        "i paragon.",
        role=BUYER,
        at=now - _ago(60 * 20),
        files=[
            _file("odcien", "lampa.png", "image/png", tiny_png((190, 150, 60))),
            _file("paragon", "paragon.pdf", "application/pdf", tiny_pdf("Paragon 7/2026")),
        ],
        message_id=_id(ACCOUNT, "issue", "reklamacja", "0"),
    )
    account.say(
        claim,
        text="Dzień dobry, przypominamy, że na rozpatrzenie reklamacji sprzedający ma 14 "
        "dni. Zespół Allegro",
        role=ADMIN,
        at=now - _ago(60 * 2),
        message_id=_id(ACCOUNT, "issue", "reklamacja", "1"),
    )


def seed_allegro(sandbox: AllegroSandbox) -> None:
    """The seeder :func:`parley_sandbox.allegro.mount` installs."""
    now = sandbox.clock.now()
    account = sandbox.configure(AccountConfig(name=ACCOUNT, seller_login="Lumina_Oswietlenie"))
    _message_center(account, now)
    _issues(account, now)
