"""The local stack's MongoDB-compatible server runs on the backend it was asked for.

``deploy/local/stack.sh`` starts FerretDB on PostgreSQL (a private cluster of its own,
the default) or on SQLite (``PARLEY_MONGO_BACKEND=sqlite``). Each case starts the
server alone, as the reliability suite does (``stack.sh start mongo`` with a run
directory and a port of its own), asks FerretDB which backend it runs on (its startup
warnings name it: "Powered by FerretDB v1.24.0 and PostgreSQL 15.x."), writes, stops
and starts it again on the same data, and stops it: nothing of it may keep running.

A ``mongod`` on the PATH would be started instead of FerretDB: then there is nothing to
test here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient, UpdateOne
from support.reliability import ROOT, STACK, free_port_with_neighbour


def _path_without_mongod(path: str) -> str:
    """The PATH minus any directory holding a ``mongod``: one there would win over
    FerretDB in stack.sh, and this test is about FerretDB's backends."""
    return os.pathsep.join(
        d for d in path.split(os.pathsep) if d and shutil.which("mongod", path=d) is None
    )


class MongoAlone:
    def __init__(self, run_dir: Path, backend: str | None) -> None:
        self.run_dir = run_dir
        self.port = free_port_with_neighbour()
        self.env = {
            k: v
            for k, v in os.environ.items()
            # "use that server" / another choice of backend: not what this test starts
            if k not in ("MONGODB_URI", "PARLEY_MONGO_BACKEND", "PARLEY_POSTGRES_PORT")
        }
        self.env |= {
            "UV": str(ROOT / ".cache" / "uv" / "bin" / "uv"),
            "PARLEY_RUN_DIR": str(run_dir),
            "PARLEY_MONGO_PORT": str(self.port),
            "PATH": _path_without_mongod(os.environ.get("PATH", "")),
        }
        if backend is not None:
            self.env["PARLEY_MONGO_BACKEND"] = backend

    def stack(self, *args: str) -> str:
        done = subprocess.run(
            ["bash", str(STACK), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"stack.sh {' '.join(args)}:\n{done.stderr}"
        return done.stderr

    def client(self) -> MongoClient[dict[str, object]]:
        return MongoClient(f"mongodb://127.0.0.1:{self.port}/", serverSelectionTimeoutMS=10000)

    def powered_by(self) -> str:
        with self.client() as client:
            lines = client.admin.command("getLog", "startupWarnings")["log"]
        (line,) = [line for line in lines if "Powered by FerretDB" in line]
        return str(line)


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    run = tmp_path / "run"
    yield run
    # As root, a cluster the `postgres` user could not create under tmp_path lives in a
    # directory of /var/tmp linked from the run directory.
    link = run / "postgres"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("backend", "name"), [(None, "PostgreSQL"), ("sqlite", "SQLite")], ids=["default", "sqlite"]
)
def test_ferretdb_runs_on_the_selected_backend(
    run_dir: Path, backend: str | None, name: str
) -> None:
    mongo = MongoAlone(run_dir, backend)
    try:
        log = mongo.stack("start", "mongo")
        assert f"({name} backend)" in log
        with mongo.client() as client:
            client.stack_test.things.insert_one({"_id": "kept", "n": 1})
        # FerretDB names its backend once it has reached it (the insert above).
        assert f"and {name} " in mongo.powered_by()
        assert (run_dir / "mongo.backend").read_text().strip() == name.lower()

        mongo.stack("stop", "mongo")
        mongo.stack("start", "mongo")
        with mongo.client() as client:
            assert client.stack_test.things.find_one({"_id": "kept"}) == {"_id": "kept", "n": 1}
    finally:
        mongo.stack("stop", "mongo")

    status = subprocess.run(
        ["bash", str(STACK), "status"], env=mongo.env, capture_output=True, text=True, check=True
    ).stdout
    assert "mongo: stopped" in status
    assert "postgres: stopped" in status
    if name == "PostgreSQL":
        cluster = (run_dir / "postgres").resolve()
        assert (cluster / "PG_VERSION").is_file()
        assert not (cluster / "postmaster.pid").exists(), "PostgreSQL still runs"


@pytest.mark.timeout(900)
def test_ferretdb_on_postgresql_serves_id_lookups_from_an_index(run_dir: Path) -> None:
    """What made P1's throughput fall with the stored size (bench/results): FerretDB
    writes ``{_id: v}`` as ``_jsonb->'_id' @> v``, and with its prepared statements'
    generic plans no index served it, so every lookup, update and upsert by ``_id`` read
    the whole table. The stack adds a GIN index per collection table and forces custom
    plans; and FerretDB's pool must outnumber the statements of one bulk write (it
    holds a connection per updated document until the command ends: with its default
    of 50, a bulk update of 200 existing documents waited forever)."""
    mongo = MongoAlone(run_dir, None)
    try:
        mongo.stack("start", "mongo")
        with mongo.client() as client:
            things = client.stack_test.things
            things.insert_many([{"_id": f"k{i}", "n": i} for i in range(3000)])
            explained = client.stack_test.command(
                "explain", {"find": "things", "filter": {"_id": "k7"}}
            )
            plan = explained["queryPlanner"]["Plan"]  # PostgreSQL's EXPLAIN, as JSON
            scans = [p for p in plan.get("Plans", []) if "Index Name" in p]
            assert plan["Node Type"] != "Seq Scan", plan
            assert [s["Index Name"].endswith("_parley_id_gin") for s in scans] == [True], plan

            result = things.bulk_write(
                [UpdateOne({"_id": f"k{i}"}, {"$inc": {"n": 1}}) for i in range(200)],
                ordered=False,
            )
            assert result.modified_count == 200
            assert things.find_one({"_id": "k199"}) == {"_id": "k199", "n": 200}
        shown = subprocess.run(
            ["bash", str(STACK), "psql", "-At", "-c", "show plan_cache_mode"],
            env=mongo.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert shown.strip() == "force_custom_plan"
    finally:
        mongo.stack("stop", "mongo")
