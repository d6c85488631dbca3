"""Demo threads, so a fresh ``make run`` shows a living inbox.

Each seeded instance speaks its marketplace's language: French on Carrefour, Polish
on Empik, Spanish and English on Decathlon, German on MediaMarkt. Threads sit on
orders (MMP_ORDER), on offers (pre-sale questions) and between the operator and the
shop (SELLER_OPERATOR), so every discussion type and participant role appears.
Instance names are the ids of the Mirakl operator catalogue
(``parley_connectors.mirakl.catalogue``), so a sandbox connection meets the same
per-instance rules as a production one.

Ids are derived from names (UUID v5), not random: a restarted sandbox serves the
same thread and message ids, so Parley's idempotent ingest does not see duplicates.
Times are set relative to when the sandbox starts (minutes to days ago).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from parley_sandbox.mirakl.store import (
    CUSTOMER,
    InstanceConfig,
    MiraklInstance,
    MiraklSandbox,
    Party,
    StoredThread,
)

_NAMESPACE = uuid.UUID("5f0c7a52-3c1e-4d0e-9a57-7d3a1c0f2b61")


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def tiny_png(rgb: tuple[int, int, int] = (200, 60, 40), size: int = 8) -> bytes:
    """A valid, small solid-colour PNG (a stand-in for a buyer's photo)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def tiny_pdf(text: str) -> bytes:
    """A valid one-page PDF showing one line of ASCII text."""
    safe = text.encode("ascii", "replace").decode().replace("(", "[").replace(")", "]")
    stream = f"BT /F1 14 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return out


@dataclass(frozen=True)
class Line:
    """One seeded message: who, how long ago, what, and optional files."""

    who: str  # CUSTOMER | OPERATOR | SHOP
    ago: timedelta
    body: str
    files: tuple[tuple[str, str, bytes], ...] = ()


def _thread(
    instance: MiraklInstance,
    key: str,
    now: datetime,
    *,
    topic: str,
    entity: tuple[str, str, str],
    customer: Party | None,
    lines: list[Line],
) -> StoredThread:
    name = instance.config.name
    kind, entity_id, label = entity
    thread = instance.open_thread(
        topic=topic,
        entities=[{"id": entity_id, "label": label, "type": kind}],
        customer=customer,
        at=now - lines[0].ago,
        thread_id=_id(name, key),
    )
    parties = {"CUSTOMER": customer, "OPERATOR": instance.operator, "SHOP": instance.shop}
    for number, line in enumerate(lines):
        sender = parties[line.who]
        if sender is None:
            raise ValueError(f"seed thread {key}: no {line.who} on this thread")
        # Buyers and the operator write to the shop; the shop answers the buyer, or
        # the operator on a shop-operator thread.
        if line.who == "SHOP":
            to = [customer] if customer is not None else [instance.operator]
        else:
            to = [instance.shop]
        instance.post(
            thread,
            sender=sender,
            body=line.body,
            to=to,
            files=line.files,
            at=now - line.ago,
            message_id=_id(name, key, str(number)),
        )
    return thread


def _minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def seed_carrefour(sandbox: MiraklSandbox, now: datetime) -> None:
    instance = sandbox.configure(
        InstanceConfig(
            name="carrefour", shop_id=2001, shop_name="Maison Lumière", operator_name="Carrefour"
        )
    )
    camille = Party(CUSTOMER, "Camille M.", "C-104820")
    _thread(
        instance,
        "order-not-received",
        now,
        topic="Commande non reçue",
        entity=("MMP_ORDER", "CRF-240318-0017-A", "CRF-240318-0017"),
        customer=camille,
        lines=[
            Line(
                "CUSTOMER",
                _minutes(60 * 26),
                "Bonjour, j'ai commandé une lampe de chevet il y a dix jours et je n'ai "
                "toujours rien reçu. Le suivi n'a pas bougé depuis lundi. Pouvez-vous "
                "vérifier ? Merci, Camille",
            ),
            Line(
                "SHOP",
                _minutes(60 * 24),
                "Bonjour Camille, merci pour votre message. Nous avons relancé le "
                "transporteur et revenons vers vous sous 24 h.",
            ),
            Line(
                "CUSTOMER",
                _minutes(45),
                "Toujours rien aujourd'hui… Si le colis est perdu, je préférerais un "
                "remboursement plutôt qu'un renvoi.",
            ),
        ],
    )
    lucas = Party(CUSTOMER, "Lucas B.", "C-209114")
    _thread(
        instance,
        "damaged-item",
        now,
        topic="Produit endommagé",
        entity=("MMP_ORDER", "CRF-240402-0093-A", "CRF-240402-0093"),
        customer=lucas,
        lines=[
            Line(
                "CUSTOMER",
                _minutes(180),
                "Bonjour, le pied de la lampe est arrivé fissuré. Je vous joins une photo. "
                "Comment procéder pour un échange ?",
                (("photo-lampe.png", "image/png", tiny_png()),),
            ),
        ],
    )
    ines = Party(CUSTOMER, "Inès D.", "C-330871")
    _thread(
        instance,
        "pre-sale-question",
        now,
        topic="Question sur un produit",
        entity=("MMP_OFFER", "OFF-2001-5521", "Lampe à poser en laiton"),
        customer=ines,
        lines=[
            Line(
                "CUSTOMER",
                _minutes(20),
                "Bonjour, l'ampoule est-elle fournie avec la lampe en laiton ? Et quel "
                "culot faut-il (E14 ou E27) ?",
            ),
        ],
    )
    _thread(
        instance,
        "operator-shipping-delay",
        now,
        topic="Retards d'expédition",
        entity=("SELLER_OPERATOR", "2001", "Maison Lumière"),
        customer=None,
        lines=[
            Line(
                "OPERATOR",
                _minutes(60 * 50),
                "Bonjour, votre taux d'expédition dans les délais est passé sous 95 % cette "
                "semaine. Merci de nous indiquer les mesures prises. L'équipe Carrefour "
                "Marketplace",
            ),
        ],
    )


def seed_empik(sandbox: MiraklSandbox, now: datetime) -> None:
    instance = sandbox.configure(
        InstanceConfig(
            name="empik", shop_id=3107, shop_name="Księgarnia Pod Lipą", operator_name="Empik"
        )
    )
    piotr = Party(CUSTOMER, "Piotr N.", "C-77310")
    _thread(
        instance,
        "where-is-my-parcel",
        now,
        topic="Gdzie jest moja paczka?",
        entity=("MMP_ORDER", "EMP-0412-8841-A", "EMP-0412-8841"),
        customer=piotr,
        lines=[
            Line(
                "CUSTOMER",
                _minutes(95),
                "Dzień dobry, zamówienie miało dotrzeć wczoraj, a status nadal pokazuje "
                "'w przygotowaniu'. Kiedy mogę się spodziewać przesyłki?",
            ),
        ],
    )
    anna = Party(CUSTOMER, "Anna K.", "C-81502")
    _thread(
        instance,
        "invoice-request",
        now,
        topic="Prośba o fakturę VAT",
        entity=("MMP_ORDER", "EMP-0409-1202-A", "EMP-0409-1202"),
        customer=anna,
        lines=[
            Line(
                "CUSTOMER",
                _minutes(60 * 30),
                "Dzień dobry, proszę o wystawienie faktury VAT na firmę. NIP: 5213456789, "
                "Biuro Rachunkowe Kowalska, ul. Lipowa 4, 00-001 Warszawa.",
            ),
            Line(
                "SHOP",
                _minutes(60 * 29),
                "Dzień dobry, dziękujemy za wiadomość. Faktura w załączniku. Pozdrawiamy, "
                "Księgarnia Pod Lipą",
                (
                    (
                        "faktura-FV-2024-0412.pdf",
                        "application/pdf",
                        tiny_pdf("Faktura FV/2024/0412"),
                    ),
                ),
            ),
            Line("CUSTOMER", _minutes(60 * 3), "Dziękuję, wszystko się zgadza!"),
        ],
    )


def seed_decathlon(sandbox: MiraklSandbox, now: datetime) -> None:
    instance = sandbox.configure(
        InstanceConfig(
            name="decathlon", shop_id=4410, shop_name="Andes Outdoor", operator_name="Decathlon"
        )
    )
    lucia = Party(CUSTOMER, "Lucía G.", "C-55021")
    _thread(
        instance,
        "size-exchange",
        now,
        topic="Cambio de talla",
        entity=("MMP_ORDER", "DKT-ES-771203-A", "DKT-ES-771203"),
        customer=lucia,
        lines=[
            Line(
                "CUSTOMER",
                _minutes(240),
                "Hola, las botas de montaña me quedan pequeñas. ¿Puedo cambiarlas por una "
                "talla 39? Gracias.",
            ),
        ],
    )
    tom = Party(CUSTOMER, "Tom H.", "C-60917")
    _thread(
        instance,
        "missing-part",
        now,
        topic="Missing part",
        entity=("MMP_ORDER", "DKT-UK-118842-A", "DKT-UK-118842"),
        customer=tom,
        lines=[
            Line(
                "CUSTOMER",
                _minutes(60 * 7),
                "Hi, the tent arrived without the second set of poles. Could you send "
                "the missing part, or should I return the whole tent?",
            ),
            Line(
                "OPERATOR",
                _minutes(60 * 6),
                "Hello Andes Outdoor, please answer the customer within 48 hours. "
                "Decathlon Marketplace support",
            ),
        ],
    )


def seed_mediamarkt(sandbox: MiraklSandbox, now: datetime) -> None:
    instance = sandbox.configure(
        InstanceConfig(
            name="mediamarkt",
            shop_id=5230,
            shop_name="Klangwerk Audio",
            operator_name="MediaMarkt Saturn",
        )
    )
    jonas = Party(CUSTOMER, "Jonas W.", "C-91244")
    _thread(
        instance,
        "where-is-my-order",
        now,
        topic="Wo bleibt meine Bestellung?",
        entity=("MMP_ORDER", "MMS-DE-250611-3382-A", "MMS-DE-250611-3382"),
        customer=jonas,
        lines=[
            Line(
                "CUSTOMER",
                _minutes(60 * 28),
                "Guten Tag, ich habe vor einer Woche einen Bluetooth-Lautsprecher bestellt. "
                "Laut Sendungsverfolgung liegt das Paket seit Montag im Verteilzentrum. "
                "Können Sie bitte nachfragen, wann es zugestellt wird? Viele Grüße, Jonas W.",
            ),
            Line(
                "SHOP",
                _minutes(60 * 26),
                "Hallo Herr W., vielen Dank für Ihre Nachricht. Wir haben beim Versanddienst "
                "nachgefragt und melden uns spätestens morgen mit einer Antwort. Freundliche "
                "Grüße, Klangwerk Audio",
            ),
            Line(
                "CUSTOMER",
                _minutes(70),
                "Leider hat sich noch nichts getan. Falls das Paket verloren gegangen ist, "
                "hätte ich lieber mein Geld zurück statt einer Ersatzlieferung.",
            ),
        ],
    )
    sabine = Party(CUSTOMER, "Sabine K.", "C-93017")
    _thread(
        instance,
        "damaged-item",
        now,
        topic="Ware beschädigt angekommen",
        entity=("MMP_ORDER", "MMS-DE-250614-0917-A", "MMS-DE-250614-0917"),
        customer=sabine,
        lines=[
            Line(
                "CUSTOMER",
                _minutes(150),
                "Hallo, der Kopfhörer ist heute angekommen, aber der linke Bügel ist "
                "gebrochen und der Karton war eingedrückt. Ein Foto hänge ich an. Bekomme "
                "ich ein Ersatzgerät oder soll ich den Kopfhörer zurückschicken?",
                (("foto-kopfhoerer.png", "image/png", tiny_png((40, 40, 48))),),
            ),
        ],
    )
    mehmet = Party(CUSTOMER, "Mehmet Y.", "C-94582")
    _thread(
        instance,
        "pre-sale-question",
        now,
        topic="Frage zum Artikel",
        entity=("MMP_OFFER", "OFF-5230-7741", "Kabelloser Kopfhörer ANC, schwarz"),
        customer=mehmet,
        lines=[
            Line(
                "CUSTOMER",
                _minutes(25),
                "Guten Abend, lässt sich der Kopfhörer gleichzeitig mit Handy und Laptop "
                "verbinden? Und ist ein Ladekabel mit USB-C im Lieferumfang?",
            ),
        ],
    )
    _thread(
        instance,
        "operator-cancellation-rate",
        now,
        topic="Stornoquote",
        entity=("SELLER_OPERATOR", "5230", "Klangwerk Audio"),
        customer=None,
        lines=[
            Line(
                "OPERATOR",
                _minutes(60 * 40),
                "Guten Tag, Ihre Stornoquote lag in den letzten 30 Tagen über 2 %. Bitte "
                "prüfen Sie Ihre Bestandsmeldungen und teilen Sie uns mit, welche "
                "Maßnahmen Sie ergreifen. Ihr MediaMarkt Saturn Marketplace Team",
            ),
        ],
    )


def seed_demo(sandbox: MiraklSandbox) -> None:
    """The seeder :func:`parley_sandbox.app.create_app` installs."""
    now = sandbox.clock.now()
    seed_carrefour(sandbox, now)
    seed_empik(sandbox, now)
    seed_decathlon(sandbox, now)
    seed_mediamarkt(sandbox, now)


SEEDED_INSTANCES = ("carrefour", "empik", "decathlon", "mediamarkt")
