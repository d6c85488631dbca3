"""Demo conversations for the Fnac family, in French, so ``make run`` shows them.

``fnac``: a buyer asking where the order is (already answered by the shop), a claim
opened through Fnac's customer service (an order in incident, so the shop may write
to CALLCENTER), and a pre-sale question on an offer. ``darty`` (Darty's marketplace
runs the same API): one question about a delivery slot. Ids derive from names
(UUID v5) so a restarted sandbox serves the same ids; times are relative to start.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from parley_sandbox.fnac.store import CALLCENTER, CLIENT, OFFER, ORDER, FnacSandbox

_NAMESPACE = uuid.UUID("3b1f5a0e-7c2d-4e8f-9a6b-1d2c3e4f5a6b")


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts))).upper()


def seed_demo(sandbox: FnacSandbox) -> None:
    fnac = sandbox.instance("fnac")
    fnac.config.shop_name = "Librairie du Marais"
    now = fnac.now()

    where = fnac.conversation(ORDER, "7F3A9C21B04D2", customer_name="Camille Martin")
    asked = fnac.write(
        where,
        from_type=CLIENT,
        from_name="Camille Martin",
        subject="Où en est ma commande ?",
        description="Bonjour, j'ai commandé le coffret Astérix il y a une semaine et je n'ai "
        "toujours pas reçu de numéro de suivi. Pouvez-vous me dire où en est l'envoi ?",
        at=now - timedelta(days=2, hours=3),
        message_id=_id("fnac", "where", "1"),
    )
    fnac.reply(
        asked,
        to="CLIENT",
        subject="shipping_information",
        message_type=ORDER,
        body="Bonjour Camille, le colis est parti hier par Colissimo, le numéro de suivi "
        "vous a été envoyé par e-mail. Bonne lecture !",
        at=now - timedelta(days=1, hours=20),
        message_id=_id("fnac", "where", "reply"),
        record=False,
    )
    fnac.write(
        where,
        from_type=CLIENT,
        from_name="Camille Martin",
        subject="Où en est ma commande ?",
        description="Merci, je l'ai bien reçu. Le coin de la boîte est un peu abîmé, est-ce "
        "que je peux quand même l'offrir ?",
        at=now - timedelta(hours=5),
        message_id=_id("fnac", "where", "2"),
    )

    claim = fnac.conversation(ORDER, "2C8E41D7A9F03", customer_name="Julien Petit")
    fnac.write(
        claim,
        from_type=CALLCENTER,
        from_name="Service Client Fnac",
        subject="Nouvelle réclamation",
        description="Une réclamation a été ouverte sur cette commande.\nMotif : article "
        "non conforme\nArticle : Casque audio sans fil [Son]\n\nMerci de répondre au client "
        "sous 48 heures.",
        at=now - timedelta(days=1),
        message_id=_id("fnac", "claim", "1"),
    )
    fnac.write(
        claim,
        from_type=CLIENT,
        from_name="Julien Petit",
        subject="Article non conforme",
        description="Le casque reçu est noir alors que j'avais commandé la version blanche. "
        "Je souhaite un échange.",
        at=now - timedelta(hours=23),
        message_id=_id("fnac", "claim", "2"),
    )

    presale = fnac.conversation(
        OFFER,
        "OF-9912034",
        customer_name="Sophie Bernard",
        offer_title="Le Petit Prince - Édition collector",
    )
    fnac.write(
        presale,
        from_type=CLIENT,
        from_name="Sophie Bernard",
        subject="Question sur l'article",
        description="Bonjour, l'édition collector est-elle livrée avec son fourreau ? "
        "Merci d'avance.",
        at=now - timedelta(minutes=40),
        message_id=_id("fnac", "presale", "1"),
    )

    darty = sandbox.instance("darty")
    darty.config.shop_name = "Électro Sandbox"
    slot = darty.conversation(ORDER, "9D0B7E6C5A412", customer_name="Nicolas Robert")
    darty.write(
        slot,
        from_type=CLIENT,
        from_name="Nicolas Robert",
        subject="Créneau de livraison",
        description="Bonjour, est-il possible d'être livré samedi matin pour le lave-linge ?",
        at=now - timedelta(hours=2),
        message_id=_id("darty", "slot", "1"),
    )
