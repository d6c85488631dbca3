"""The invoice form's first guess of the billing country, run in Node (the module is
plain ES, as the browser loads it). The merchant can change it; a wrong guess that
looks right is worse than none, so a country carried by the id wins over the brand."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

FORM = (
    Path(__file__).resolve().parents[3]
    / "services"
    / "gateway"
    / "web"
    / "app"
    / "pages"
    / "invoice_form.js"
)
NODE = shutil.which("node") or "/usr/bin/node"


def guesses(*marketplaces: str) -> dict[str, str]:
    script = (
        f"const m = await import({json.dumps(FORM.as_uri())});"
        f"const ids = {json.dumps(list(marketplaces))};"
        "const pairs = ids.map((id) => [id, m.marketplaceCountry(id)]);"
        "console.log(JSON.stringify(Object.fromEntries(pairs)));"
    )
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    answer: dict[str, str] = json.loads(done.stdout)
    return answer


def test_a_country_the_marketplace_id_carries_wins_over_the_brand() -> None:
    assert guesses("carrefour-es", "amazon_de", "amazon-uk", "cdon-se", "decathlon-pl") == {
        "carrefour-es": "ES",
        "amazon_de": "DE",
        "amazon-uk": "GB",
        "cdon-se": "SE",
        "decathlon-pl": "PL",
    }


def test_a_single_country_marketplace_gets_its_home_country() -> None:
    assert guesses("fnac", "empik", "rakuten") == {"fnac": "FR", "empik": "PL", "rakuten": "FR"}


def test_no_guess_when_nothing_tells() -> None:
    assert guesses("amazon-com", "leroymerlin", "", "brw1a2b3c") == {
        "amazon-com": "",
        "leroymerlin": "",
        "": "",
        "brw1a2b3c": "",
    }
