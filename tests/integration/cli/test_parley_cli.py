"""The operator CLI (``parley``) as a process against the real MongoDB-compatible server.

Each test runs the CLI in a throw-away database of its own (MONGODB_DATABASE), with a
credentials key and an API key pepper of its own, exactly as an operator would.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_platform.crypto import CredentialCipher

pytestmark = pytest.mark.integration

SECRET = "mirakl-secret-key-4711"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def env(mongo_db: AsyncDatabase[Any], mongo_uri: str) -> dict[str, str]:
    return {
        **os.environ,
        "MONGODB_URI": mongo_uri,
        "MONGODB_DATABASE": mongo_db.name,
        "CREDENTIALS_KEY": CredentialCipher.generate_key(),
        "API_KEY_PEPPER": "cli-test-pepper",
        "PARLEY_TEST_MIRAKL_KEY": SECRET,
    }


async def parley(env: dict[str, str], *args: str) -> Run:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "parley_cli.main",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def refused(env: dict[str, str], *args: str) -> str:
    """Runs a command that must be refused: exit 1 and one line on stderr."""
    run = await parley(env, *args)
    assert run.code == 1, run
    lines = [line for line in run.err.splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and lines[0].startswith("refused: "), run.err
    return lines[0]


async def test_connections_are_added_listed_shown_steered_and_removed(
    env: dict[str, str], mongo_db: AsyncDatabase[Any]
) -> None:
    added = await parley(
        env,
        *("connections", "add", "--id", "c-mirakl", "--store", "s1", "--family", "mirakl"),
        *("--marketplace", "sandboxmkp", "--base-url", "http://sandbox/mirakl/x?token=abc"),
        *("--credential-env", "api_key=PARLEY_TEST_MIRAKL_KEY"),
    )
    assert added.code == 0, added
    relay = await parley(
        env,
        *("connections", "add", "--id", "c-amazon", "--store", "s1"),
        *("--family", "email_relay", "--marketplace", "amazon_fr"),
    )
    assert relay.code == 0, relay
    address = relay.out.strip()
    assert address.endswith("@inbound.parley.example")

    listing = await parley(env, "connections", "list")
    assert listing.code == 0, listing
    header, *rows = listing.out.splitlines()
    assert header.split()[:6] == ["ID", "STORE", "FAMILY", "MARKETPLACE", "ENABLED", "HEALTH"]
    assert "FAILURES" in header and "LAST ERROR" in header
    assert [r.split()[0] for r in rows] == ["c-amazon", "c-mirakl"]
    assert all(r.split()[4:6] == ["yes", "ok"] for r in rows)
    assert (await parley(env, "connections", "list", "--store", "nope")).out.count("\n") == 1

    shown = await parley(env, "connections", "show", "c-mirakl")
    assert shown.code == 0, shown
    details = json.loads(shown.out)
    assert details["base_url"] == "http://sandbox/mirakl/x"
    assert details["health"] == "ok" and details["consecutive_failures"] == 0
    assert details["last_error"] is None and details["last_sync_at"] is None
    assert "credentials" not in details
    relay_details = json.loads((await parley(env, "connections", "show", "c-amazon")).out)
    assert relay_details["options"]["inbound_address"] == address
    for run in (listing, shown, added):
        assert SECRET not in run.out + run.err and "token=abc" not in run.out + run.err

    assert (await parley(env, "connections", "disable", "c-mirakl")).code == 0
    assert (
        json.loads((await parley(env, "connections", "show", "c-mirakl")).out)["messaging_enabled"]
        is False
    )
    listed = (await parley(env, "connections", "list")).out
    assert next(r for r in listed.splitlines() if r.startswith("c-mirakl")).split()[4] == "no"

    # A connection flagged by refused credentials is retried by enable and resync.
    await mongo_db["connections"].update_one(
        {"_id": "c-mirakl"},
        {"$set": {"health": "needs_attention", "next_sync_at": None}},
    )
    assert (await parley(env, "connections", "enable", "c-mirakl")).code == 0
    doc = await mongo_db["connections"].find_one({"_id": "c-mirakl"})
    assert doc is not None and doc["messaging_enabled"] is True and doc["health"] == "ok"

    await mongo_db["connections"].update_one(
        {"_id": "c-mirakl"}, {"$set": {"health": "needs_attention", "next_sync_at": doc["cursor"]}}
    )
    assert (await parley(env, "connections", "resync", "c-mirakl")).code == 0
    doc = await mongo_db["connections"].find_one({"_id": "c-mirakl"})
    assert doc is not None and doc["next_sync_at"] is None and doc["health"] == "ok"

    # A sync lease held (as MongoConnectionRepository.claim leaves it): removed too.
    await mongo_db["connection_claims"].insert_one({"_id": "c-mirakl#1", "owner": "x"})
    await mongo_db["connections"].update_one(
        {"_id": "c-mirakl"}, {"$set": {"lease_ids": ["c-mirakl#1"]}}
    )
    assert (await parley(env, "connections", "remove", "c-mirakl")).code == 0
    assert await mongo_db["connections"].find_one({"_id": "c-mirakl"}) is None
    assert await mongo_db["connection_claims"].find_one({"_id": "c-mirakl#1"}) is None
    for action in ("show", "disable", "enable", "remove", "resync"):
        line = await refused(env, "connections", action, "c-mirakl")
        assert line == "refused: no connection c-mirakl"


async def test_an_activation_without_its_credentials_is_refused(env: dict[str, str]) -> None:
    line = await refused(
        env,
        *("connections", "add", "--id", "c1", "--store", "s1", "--family", "fnac"),
        *("--marketplace", "fnac", "--base-url", "http://fnac"),
    )
    assert "--credential-env" in line
    empty = {**env, "PARLEY_TEST_MIRAKL_KEY": ""}
    line = await refused(
        empty,
        *("connections", "add", "--id", "c1", "--store", "s1", "--family", "mirakl"),
        *("--marketplace", "x", "--base-url", "http://x"),
        *("--credential-env", "api_key=PARLEY_TEST_MIRAKL_KEY"),
    )
    assert line == "refused: environment variable PARLEY_TEST_MIRAKL_KEY is empty"
    assert "c1" not in (await parley(env, "connections", "list")).out


async def test_accounts_and_keys(env: dict[str, str], mongo_db: AsyncDatabase[Any]) -> None:
    created = await parley(
        env, "accounts", "create", "--name", "Shop", "--store", "s1", "--id", "acc1"
    )
    assert created.code == 0 and created.out.strip() == "acc1", created
    again = await parley(
        env, "accounts", "create", "--name", "Shop", "--store", "s1", "--id", "acc1"
    )
    assert again.code == 0 and "exists" in again.err
    line = await refused(
        env, "accounts", "create", "--name", "Other", "--store", "s2", "--id", "acc1"
    )
    assert "acc1" in line
    assert "store id" in await refused(env, "accounts", "create", "--name", "X", "--store", "a/b")
    accounts = (await parley(env, "accounts", "list")).out.splitlines()
    assert accounts[0].split() == ["ID", "NAME", "STORES", "CREATED"]
    assert accounts[1].split()[:3] == ["acc1", "Shop", "s1"]

    issued = await parley(env, "keys", "create", "--account", "acc1", "--name", "erp")
    assert issued.code == 0, issued
    secret = issued.out.strip()
    assert secret.startswith("prl_") and len(issued.out.splitlines()) == 1
    key_id = secret.split("_")[1]
    assert key_id in issued.err and secret not in issued.err

    listed = await parley(env, "keys", "list", "--account", "acc1")
    assert listed.code == 0, listed
    header, row = listed.out.splitlines()
    assert header.split() == ["KEY", "ID", "NAME", "CREATED", "REVOKED"]
    assert row.split()[:2] == [key_id, "erp"] and row.split()[-1] == "-"
    assert secret not in listed.out and secret.split("_", 2)[2] not in listed.out
    stored = await mongo_db["api_keys"].find_one({"_id": key_id})
    assert stored is not None and secret not in json.dumps(stored, default=str)
    assert stored["digest"] not in listed.out

    assert (await parley(env, "keys", "revoke", key_id)).code == 0
    (_, row) = (await parley(env, "keys", "list", "--account", "acc1")).out.splitlines()
    assert row.split()[-1] != "-"  # the revocation time
    assert await refused(env, "keys", "revoke", "0123456789ab") == "refused: no key 0123456789ab"
    assert await refused(env, "keys", "create", "--account", "nope") == "refused: no account nope"
    assert await refused(env, "keys", "list", "--account", "nope") == "refused: no account nope"


async def test_the_console_script_runs(env: dict[str, str]) -> None:
    script = Path(sys.executable).parent / "parley"
    process = await asyncio.create_subprocess_exec(
        str(script), "connections", "list", env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0 and out.decode().startswith("ID")


async def test_a_missing_secret_setting_stops_the_command(env: dict[str, str]) -> None:
    without_pepper = {k: v for k, v in env.items() if k != "API_KEY_PEPPER"}
    run = await parley(without_pepper, "keys", "list", "--account", "acc1")
    assert run.code == 2 and "API_KEY_PEPPER" in run.err and run.out == ""
    without_key = {k: v for k, v in env.items() if k != "CREDENTIALS_KEY"}
    run = await parley(without_key, "connections", "list")
    assert run.code == 2 and "CREDENTIALS_KEY" in run.err and run.out == ""
