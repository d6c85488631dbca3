"""Runs Parley's services and the marketplace sandbox as local processes.

``python deploy/local/devstack.py run`` is what ``make run`` calls once the stack is
up: it starts the sandbox, activates demo connections for every marketplace family
the sandbox plays (Mirakl operator instances, Allegro, Fnac, Rakuten, and the email
relay for Amazon and CDON), starts the five services, waits until each answers its
health check, relays one demo buyer mail, prints the gateway URL and the email relay's
inbound addresses and keeps everything running until Ctrl-C, which stops all of it.

Connections are activated the way an operator does it, through the operator CLI
(parley), with each credential in an environment variable named on the command line. The values are
the sandbox's documented demo credentials, which are public, not secrets.

The end-to-end tests import :class:`ServiceGroup` to start the same processes the
same way, on free ports and a throw-away database.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_API_KEY = "sandbox-shop-key"  # the sandbox's public demo key, not a secret
DEMO_INSTANCES = ("carrefour", "empik", "decathlon", "mediamarkt")

# The sandbox's public demo credentials per family (credential field -> value), as its
# stores define them: parley_sandbox.{mirakl,allegro,fnac,rakuten}.store. Not secrets.
# Allegro's refresh token names the seller account: see sandbox_credentials().
SANDBOX_CREDENTIALS: dict[str, dict[str, str]] = {
    "mirakl": {"api_key": SANDBOX_API_KEY},
    "allegro": {
        "client_id": "sandbox-allegro-client",
        "client_secret": "sandbox-allegro-secret",
    },
    "fnac": {
        "partner_id": "0A1B2C3D-0000-4000-8000-00000000F0AC",
        "shop_id": "5E6F7A8B-0000-4000-8000-00000000540B",
        "key": "sandbox-fnac-key",
    },
    "rakuten": {"login": "boutique-sandbox", "token": "sandbox-rakuten-token"},
    "email_relay": {},  # inbound mail is pushed; replies leave through the SMTP relay
}


def sandbox_credentials(family: str, instance: str) -> dict[str, str]:
    """The demo credentials of one sandbox instance (Allegro: of one seller account)."""
    credentials = dict(SANDBOX_CREDENTIALS[family])
    if family == "allegro":
        credentials["refresh_token"] = f"sandbox-refresh-token-{instance}"
    return credentials


@dataclass(frozen=True)
class DemoConnection:
    """A demo store's access to one marketplace the sandbox plays, and its seeded data."""

    family: str
    marketplace: str  # how discussions name the marketplace
    instance: str = ""  # the sandbox instance or account; none for the email relay


DEMO_CONNECTIONS = (
    *(DemoConnection("mirakl", name, name) for name in DEMO_INSTANCES),
    DemoConnection("allegro", "allegro", "lumina"),
    DemoConnection("fnac", "fnac", "fnac"),
    DemoConnection("fnac", "darty", "darty"),
    DemoConnection("rakuten", "rakuten", "fr"),
    DemoConnection("email_relay", "amazon-fr"),
    DemoConnection("email_relay", "cdon-se"),
)


# Below Linux's default ephemeral range (32768-60999): see Ports.free.
STATIC_PORTS = (20000, 32000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Ports:
    gateway: int = 8000
    ingest: int = 8100
    invoicer: int = 8300
    sandbox: int = 8900
    normalizer: int = 6066
    responder: int = 6067
    ingest_smtp: int = 2525  # inbound mail from the email relays (Amazon, CDON)
    sandbox_smtp: int = 2526  # the sandbox's SMTP sink, standing in for the outbound relay

    @classmethod
    def free(cls) -> Ports:
        """Eight distinct ports nobody listens on, below the kernel's ephemeral range.

        ``free_port`` (bind to 0) picks from the ephemeral range, where the next
        outgoing connection or another bind-to-0 may take the port before the service
        binds it: an e2e gateway once found its port taken and a Faust app answered its
        health check. Ports here are held until all eight are chosen (so they differ)
        and come from a range the kernel never hands out on its own.
        """
        held: list[socket.socket] = []
        rng = random.Random()
        try:
            while len(held) < 8:
                s = socket.socket()
                try:
                    s.bind(("127.0.0.1", rng.randrange(*STATIC_PORTS)))
                except OSError:
                    s.close()
                    continue
                held.append(s)
            return cls(*(int(s.getsockname()[1]) for s in held))
        finally:
            for s in held:
                s.close()


def _check_answered_by(name: str, body: bytes, url: str) -> None:
    """A health answer naming another service means the port was taken before ``name``
    could bind it: said at once, not seen later as every request failing."""
    try:
        answer = json.loads(body)
    except ValueError:
        return
    other = answer.get("service") if isinstance(answer, dict) else None
    if other is not None and other != name:
        raise RuntimeError(f"{url} is answered by {other}, not {name}: its port was taken")


@dataclass
class ServiceGroup:
    """The sandbox and the five services, sharing one environment."""

    env: Mapping[str, str]
    ports: Ports = field(default_factory=Ports)
    log_dir: Path = ROOT / ".run" / "logs"
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # One download-link key per run, shared by the responder (signs) and the gateway
    # (checks); LINK_SIGNING_KEY in the environment or ``env`` replaces it.
    link_signing_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    # The gateway refuses to start without an API key pepper; the same value goes to the
    # operator CLI that makes keys. API_KEY_PEPPER in the environment or ``env`` replaces it
    # (`make run` passes one kept in .run/, so keys outlive a restart).
    api_key_pepper: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    def environment(self) -> dict[str, str]:
        """What every process of the group runs with (also for commands run beside it)."""
        p = self.ports
        return {
            # Defaults first, so the environment and ``env`` can replace them.
            "LINK_SIGNING_KEY": self.link_signing_key,
            "API_KEY_PEPPER": self.api_key_pepper,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{p.gateway}",
            **os.environ,
            **self.env,
            "SANDBOX_PORT": str(p.sandbox),
            "GATEWAY_PORT": str(p.gateway),
            "INGEST_PORT": str(p.ingest),
            "INVOICER_PORT": str(p.invoicer),
            "GATEWAY_INVOICER_URL": f"http://127.0.0.1:{p.invoicer}",
            "NORMALIZER_WEB_PORT": str(p.normalizer),
            "RESPONDER_WEB_PORT": str(p.responder),
            "INGEST_SMTP_PORT": str(p.ingest_smtp),
            "SANDBOX_PARLEY_SMTP_PORT": str(p.ingest_smtp),
            "SANDBOX_SMTP_PORT": str(p.sandbox_smtp),
            "RESPONDER_SMTP_PORT": str(p.sandbox_smtp),
            "GATEWAY_SMTP_PORT": str(p.sandbox_smtp),  # autoresponder test mails (F19)
            "PYTHONUNBUFFERED": "1",
        }

    def health_urls(self) -> dict[str, str]:
        p = self.ports
        return {
            "sandbox": f"http://127.0.0.1:{p.sandbox}/health",
            "invoicer": f"http://127.0.0.1:{p.invoicer}/health",
            "normalizer": f"http://127.0.0.1:{p.normalizer}/health",
            "responder": f"http://127.0.0.1:{p.responder}/health",
            "ingest": f"http://127.0.0.1:{p.ingest}/health",
            "gateway": f"http://127.0.0.1:{p.gateway}/health",
        }

    def start(self, name: str, module: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(  # noqa: S603 - fixed argv of our own modules
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_sandbox(self) -> None:
        self.start("sandbox", "parley_sandbox")
        self.wait_healthy(["sandbox"])

    def start_services(self) -> None:
        for name in ("invoicer", "normalizer", "responder", "ingest", "gateway"):
            self.start(name, f"parley_{name}")
        self.wait_healthy(["invoicer", "normalizer", "responder", "ingest", "gateway"])

    def wait_healthy(self, names: list[str], timeout: float = 120.0) -> None:
        urls = self.health_urls()
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            name = pending[0]
            proc = self.processes[name]
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}; see {self.log_path(name)}"
                )
            try:
                with urllib.request.urlopen(urls[name], timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        _check_answered_by(name, resp.read(), urls[name])
                        pending.pop(0)
                        continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{name} not healthy after {timeout:.0f} s; see {self.log_path(name)}"
                )
            time.sleep(0.3)

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)

    def sandbox_url(self, family: str, instance: str) -> str | None:
        """Where the sandbox serves ``instance`` of ``family`` (the connection's base URL).

        Allegro is one marketplace: the account comes from the OAuth token, not the URL.
        The email relay has no API (its connection address is ``mailto:`` the inbound one).
        """
        root = f"http://127.0.0.1:{self.ports.sandbox}"
        urls = {
            "mirakl": f"{root}/mirakl/{instance}",
            "allegro": f"{root}/allegro",
            "fnac": f"{root}/fnac/{instance}/api.php",
            "rakuten": f"{root}/rakuten/{instance}",
        }
        if family == "email_relay":
            return None
        return urls[family]

    def add_connection(
        self,
        connection_id: str,
        store_id: str,
        family: str,
        marketplace: str,
        *,
        credentials: Mapping[str, str],
        base_url: str | None,
        since: datetime,
        interval_seconds: int,
        extra_args: Sequence[str] = (),
    ) -> str:
        """Activates a connection through the operator CLI (``parley connections add``);
        answers what it printed on stdout (for the email relay: the store's inbound
        address).

        Each credential travels as the CLI requires: in an environment variable
        (``PARLEY_<FAMILY>_<FIELD>``) named by ``--credential-env FIELD=VARIABLE``.
        """
        env = self.environment()
        argv = [
            sys.executable,
            "-m",
            "parley_cli",
            "connections",
            "add",
            "--id",
            connection_id,
            "--store",
            store_id,
            "--family",
            family,
            "--marketplace",
            marketplace,
            "--activated-at",
            since.isoformat(),
            "--interval",
            str(interval_seconds),
        ]
        for name, value in credentials.items():
            variable = f"PARLEY_{family}_{name}".upper()
            env[variable] = value
            argv += ["--credential-env", f"{name}={variable}"]
        if base_url is not None:
            argv += ["--base-url", base_url]
        argv += list(extra_args)
        done = subprocess.run(  # noqa: S603 - fixed argv of our own CLI
            argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"add-connection {connection_id} ({family}) failed with {done.returncode}:"
                f" {done.stderr.strip()}"
            )
        return done.stdout.strip()

    def activate_family(
        self,
        family: str,
        connection_id: str,
        store_id: str,
        instance: str,
        *,
        marketplace: str | None = None,
        since: datetime,
        interval_seconds: int,
    ) -> str:
        """Activates a store on a sandbox instance of ``family`` with its demo credentials.

        ``marketplace`` defaults to ``instance``. Answers the CLI's output, which for
        the email relay is the inbound address the relay must deliver to.
        """
        return self.add_connection(
            connection_id,
            store_id,
            family,
            marketplace or instance,
            credentials=sandbox_credentials(family, instance),
            base_url=self.sandbox_url(family, instance),
            since=since,
            interval_seconds=interval_seconds,
        )

    def activate(
        self,
        connection_id: str,
        store_id: str,
        instance: str,
        *,
        since: datetime,
        interval_seconds: int,
    ) -> None:
        """Activates messaging for a store on a sandbox Mirakl instance, via the operator CLI."""
        self.activate_family(
            "mirakl",
            connection_id,
            store_id,
            instance,
            since=since,
            interval_seconds=interval_seconds,
        )

    def activate_demo_connections(self, store_id: str = "demo-store") -> dict[str, str]:
        """Back-dated activation, so the sandbox's seeded threads are pulled on first sync.

        Answers the email relay's inbound address per marketplace (``amazon-fr`` …).
        """
        since = datetime.now(UTC) - timedelta(days=30)
        interval = int(os.environ.get("DEMO_SYNC_INTERVAL_SECONDS", "30"))
        inbound: dict[str, str] = {}
        for demo in DEMO_CONNECTIONS:
            printed = self.activate_family(
                demo.family,
                f"{store_id}-{demo.marketplace}",
                store_id,
                demo.instance,
                marketplace=demo.marketplace,
                since=since,
                interval_seconds=interval,
            )
            if demo.family == "email_relay":
                inbound[demo.marketplace] = printed.splitlines()[-1]
        return inbound

    def relay_demo_mail(self, inbound_address: str) -> None:
        """One Amazon buyer mail through the sandbox's relay, so the email family shows.

        Its Message-ID, buyer alias and order are fixed: a restarted demo relays the
        same mail again, which Parley recognises and does not duplicate.
        """
        mail = {
            "to": inbound_address,
            "marketplace": "amazon",
            "tld": "fr",
            "buyer_name": "Léa Moreau",
            "buyer_alias": "q8w2e4r6t1y3u5i",
            "order_id": "402-3917465-2284150",
            "message_id": "demo-amazon-fr-0001@marketplace.amazon.fr",
            "body": "Bonjour, le colis indique « livré » mais je ne l'ai pas reçu. "
            "Pouvez-vous vérifier auprès du transporteur ?",
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports.sandbox}/_sandbox/email/inbound",
            data=json.dumps(mail).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:  # a demo nicety: the stack runs without it
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - local
                answer = json.loads(resp.read())
        except OSError as exc:
            print(f"the demo mail was not relayed: {exc}", flush=True)
            return
        if not answer.get("accepted"):
            print(f"the demo mail was refused: {answer.get('code')} {answer.get('reply')}")


def banner(group: ServiceGroup, inbound: Mapping[str, str]) -> str:
    """What ``make run`` prints once everything answers: where to look, where mail goes."""
    p = group.ports
    lines = [
        "",
        "Parley is running.",
        f"  Inbox: http://127.0.0.1:{p.gateway}/  (the web inbox: sign in with an API key)",
        f"  gateway (REST API):  http://127.0.0.1:{p.gateway}/discussions",
        f"  API docs (OpenAPI):  http://127.0.0.1:{p.gateway}/docs",
        f"  invoicer:            http://127.0.0.1:{p.invoicer}/docs",
        f"  marketplace sandbox: http://127.0.0.1:{p.sandbox}/docs",
        f"  demo marketplaces:   {', '.join(d.marketplace for d in DEMO_CONNECTIONS)}",
    ]
    if inbound:
        lines.append("  email relay inbound addresses (set in the marketplace back office):")
        lines += [f"    {name:<10} {address}" for name, address in inbound.items()]
        lines.append(
            f"    relay a buyer mail: POST http://127.0.0.1:{p.sandbox}/_sandbox/email/inbound"
            f" (ingest's SMTP: 127.0.0.1:{p.ingest_smtp})"
        )
    lines += [f"  logs:                {group.log_dir}", "Press Ctrl-C to stop everything."]
    return "\n".join(lines)


def create_api_key(group: ServiceGroup, account_id: str, store_ids: Sequence[str]) -> str:
    """A new gateway API key of the account ``account_id`` owning ``store_ids``, made
    through the operator CLI with the group's environment (same database and pepper as
    the gateway). The account is created the first time and reused after that."""

    def cli(*args: str) -> str:
        done = subprocess.run(  # noqa: S603 - fixed argv of our own CLI
            [sys.executable, "-m", "parley_cli", *args],
            cwd=ROOT,
            env=group.environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"parley {args[0]} {args[1]} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    stores = [arg for store_id in store_ids for arg in ("--store", store_id)]
    cli("accounts", "create", "--id", account_id, "--name", account_id, *stores)
    return cli("keys", "create", "--account", account_id, "--name", "devstack")


def run() -> None:
    group = ServiceGroup(env={})
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        print("starting the marketplace sandbox…", flush=True)
        group.start_sandbox()
        inbound = group.activate_demo_connections()
        print("starting ingest, normalizer, responder, invoicer, gateway…", flush=True)
        group.start_services()
        if "amazon-fr" in inbound:
            group.relay_demo_mail(inbound["amazon-fr"])
        api_key = create_api_key(group, "demo-account", ["demo-store"])
        lines = banner(group, inbound).splitlines()
        lines[-1:-1] = [  # before "Press Ctrl-C…"
            f"  demo API key:        {api_key}  (store demo-store; shown once per run;"
            " paste it in the Inbox)",
            "  for the README's quickstart, in another terminal:",
            f"    export PARLEY_URL=http://127.0.0.1:{group.ports.gateway} PARLEY_KEY={api_key}",
        ]
        print("\n".join(lines), flush=True)
        while not stopping.wait(2):
            for name, proc in list(group.processes.items()):
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {group.log_path(name)}")
                    group.processes.pop(name)
    finally:
        print("\nstopping…", flush=True)
        group.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run"])
    parser.parse_args()
    run()


if __name__ == "__main__":
    main()
