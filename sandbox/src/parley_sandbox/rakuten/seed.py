"""Demo conversations for the Rakuten France family, in French.

Account ``fr``: a buyer asking about a shipping delay, a buyer who already got an
answer and writes again, and an amicable claim with a mail from Rakuten France's
customer service. Item ids are fixed so a restarted sandbox serves the same ones;
times are relative to start.
"""

from __future__ import annotations

from datetime import timedelta

from parley_sandbox.rakuten.store import AMICABLE, RakutenSandbox


def seed_demo(sandbox: RakutenSandbox) -> None:
    fr = sandbox.instance("fr")
    now = fr.now()

    delay = fr.item(
        "1510836652",
        buyer="marie.dupont75",
        headline="Astérix - Le Domaine des Dieux (Blu-ray)",
        ordered_at=now - timedelta(days=4),
    )
    fr.buyer_writes(
        delay,
        "Bonjour, ma commande n'est toujours pas expédiée alors qu'elle était annoncée "
        "sous 48 h. Pouvez-vous me donner une date ?",
        at=now - timedelta(hours=6),
    )

    again = fr.item(
        "1510836701",
        buyer="lucas_b",
        headline="Manette sans fil - Noir",
        ordered_at=now - timedelta(days=6),
    )
    fr.buyer_writes(again, "La manette est-elle compatible PC ?", at=now - timedelta(days=3))
    fr.seller_writes(
        again,
        "Bonjour, oui, elle fonctionne en Bluetooth et en filaire sur PC.",
        at=now - timedelta(days=2, hours=22),
        record=False,
    )
    fr.buyer_writes(again, "Merci ! Le câble USB est-il fourni ?", at=now - timedelta(minutes=50))

    claim = fr.item(
        "1510836788",
        buyer="jeanne.leroy",
        headline="Théière en fonte 1,2 L",
        ordered_at=now - timedelta(days=9),
    )
    claim.received_at = now - timedelta(days=2)
    claim.claim, claim.claim_comment = AMICABLE, "Théière reçue fêlée, je souhaite un échange."
    fr.rakuten_writes(
        claim,
        "Bonjour,\nL'acheteur jeanne.leroy vient d'ouvrir une réclamation concernant "
        f"votre vente ({claim.itemid}).\nMotif : article endommagé.\nMerci de lui proposer "
        "une solution.\n\nLe Service Clients Rakuten France",
        "Réclamation sur votre vente - Service Clients Rakuten France",
        at=now - timedelta(days=1, hours=2),
    )
    fr.buyer_writes(
        claim,
        "Bonjour, la théière est arrivée fêlée sur le côté. Pouvez-vous m'en renvoyer une ?",
        at=now - timedelta(days=1, hours=2),
    )
