"""The location service on PostgreSQL: REGISTER/s with one and two registrars, look-ups at 1M.

Measurements, in one run:

- **CPU per REGISTER in-process**: ``Registrar.handle`` in a loop (no sockets, no SIPp,
  a new AOR per request as below), on an SQLite file and on PostgreSQL, rounds
  alternating: microseconds of CPU of this process per REGISTER (user + system), of the
  PostgreSQL server process serving the connection, and of wall time;
- **REGISTER/s persisted**: SIPp ``sipp/register_unique.xml`` (a new user per request)
  against ``python -m rfc3261 registrar`` (a) with an SQLite file, one process; (b) with
  ``--db postgresql://`` on a PostgreSQL server started for the run, one process; (c) two
  registrar processes on that server, each fed by its own SIPp at half the offered
  rate; (d) one process with 0, 1, 2 and 8 database workers (``--db-workers``; (b) and
  (c) run the default).  Registrar *i* is pinned to CPU *i* (``taskset``); the offered
  rate steps up until a step is not clean, the cases taking turns at each rate, and
  every binding answered 200 is counted in the database afterwards (persisted, not just
  answered).  Each step also records how busy the machine's CPUs were.  The server
  runs with ``fsync`` on and the registrars connect with ``synchronous_commit=off``:
  like SQLite's WAL with ``synchronous=NORMAL``, a crash of the database host may lose
  the last commits, a crash of a registrar loses nothing;
- **look-up with 1,000,000 bindings**: the table filled with a million AORs (one
  binding each), then random look-ups through :class:`PostgresLocationService`,
  with the query plan (the primary key's index); the same on a table of 1,000, and the
  cost of the registrar's whole-table count (run at most once a second).

Targets (issue 24): two processes >= 1.6 x one on PostgreSQL; one on PostgreSQL >=
0.5 x SQLite.  Skipped with the reason without ``sipp``, PostgreSQL or psycopg.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rfc3261.asyncio.loopback import free_port
from rfc3261.bench.proxy_load import _STAT, SCENARIOS, SIPP_COMMON, _stop
from rfc3261.programs.registrar import DEFAULT_BIND_WORKERS

NAME = "location_pg"

TARGET_SCALING = 1.6
TARGET_PG_VS_SQLITE = 0.5
# --db-workers for the sweep of one process on PostgreSQL (the default is measured as
# postgresql_1 already).
POOL_SIZES = (0, 1, 2, 8)
MAIN_CASES = ("sqlite_1", "postgresql_1", "postgresql_2")

REPO = Path(__file__).resolve().parents[2]
# Like SQLite WAL + synchronous=NORMAL: no wait for the WAL flush at commit.
PG_OPTIONS = "?options=-c%20synchronous_commit%3Doff"


def _pinned(cpu: int | None, command: list[str]) -> list[str]:
    cpus = os.cpu_count() or 1
    if cpu is None or cpus < 2 or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(cpu % cpus), *command]


def _start_registrar(
    db: str, cpu: int | None, workdir: Path, extra: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    command = _pinned(
        cpu,
        [
            sys.executable, "-m", "rfc3261", "registrar", "--listen", f"sip:127.0.0.1:{port}",
            "--domain", "example.com", "--buffer", "4194304", "-q", "--db", db, *extra,
        ],
    )  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening" not in line:
        process.kill()
        raise RuntimeError(f"registrar did not start: {line!r}")
    return process, port


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) clock ticks of all the machine's CPUs since boot (``/proc/stat``)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def _sipp_start(port: int, rate: int, calls: int, workdir: Path) -> subprocess.Popen[str]:
    command = [
        "sipp", f"127.0.0.1:{port}", "-sf", str(SCENARIOS / "register_unique.xml"),
        "-i", "127.0.0.1", "-p", str(free_port()), "-m", str(calls), "-r", str(rate),
        "-l", str(max(rate * 3, 1000)), *SIPP_COMMON,
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def _register_step(
    databases: list[str],
    rate: int,
    seconds: float,
    workdir: Path,
    count: Callable[[], int],
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One load step: a registrar per entry of ``databases``, each fed rate/n by its SIPp."""
    servers = [_start_registrar(db, cpu, workdir, extra) for cpu, db in enumerate(databases)]
    share = max(1, rate // len(servers))
    try:
        time.sleep(0.3)
        before = count()
        cpu_before = [_cpu_seconds(p.pid) for p, _ in servers]
        machine_before = _machine_cpu()
        started = time.perf_counter()
        clients = [_sipp_start(port, share, int(share * seconds), workdir) for _, port in servers]
        outputs = []
        for client in clients:
            out, _ = client.communicate(timeout=120)
            outputs.append((client.returncode, out))
        wall = time.perf_counter() - started
        machine_after = _machine_cpu()
        cpu = [_cpu_seconds(p.pid) - c for (p, _), c in zip(servers, cpu_before, strict=True)]
    finally:
        for process, _ in servers:
            _stop(process)
    successful = failed = 0
    achieved = 0.0
    status = 0
    for returncode, out in outputs:
        found = {name: float(value) for name, value in _STAT.findall(out)}
        successful += int(found.get("Successful call", 0))
        failed += int(found.get("Failed call", 0))
        achieved += found.get("Call Rate") or 0.0
        status = status or returncode
    persisted = count() - before
    if persisted != successful:
        failed += abs(successful - persisted)
    return {
        "rate": rate,
        "processes": len(servers),
        "exit_status": status,
        "successful": successful,
        "failed": failed,
        "persisted_bindings": persisted,
        "sipp_call_rate": round(achieved, 1),
        "wall_seconds": round(wall, 2),
        "server_cpu_us_per_register": round(sum(cpu) / max(successful, 1) * 1e6, 1),
        # How busy all the machine's CPUs were during the step (SIPp, PostgreSQL, the
        # registrars, and whatever else runs on the host): near 1.0, adding a process
        # cannot add throughput.
        "machine_busy": round(
            (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1]),
            2,
        ),
    }


def _peak(ramp: dict[str, Any]) -> float:
    return max(step["sipp_call_rate"] or 0.0 for step in ramp["steps"])


def _interleaved_ramps(
    cases: dict[str, Callable[[int], dict[str, Any]]], rates: list[int]
) -> dict[str, dict[str, Any]]:
    """Each case's offered rate stepped up until a step is not clean (as
    ``proxy_load._ramp``), the cases taking turns at each rate: on a shared machine whose
    load changes by the minute, the cases compared are measured minutes apart at most."""
    ramps: dict[str, dict[str, Any]] = {name: {"steps": [], "best": None} for name in cases}
    running = list(cases)
    for rate in rates:
        for name in list(running):
            result = cases[name](rate)
            achieved = result.get("sipp_call_rate") or 0.0
            result["clean"] = (
                result["exit_status"] == 0 and not result["failed"] and achieved >= 0.85 * rate
            )
            ramps[name]["steps"].append(result)
            if result["clean"]:
                ramps[name]["best"] = result
            else:
                running.remove(name)
        if not running:
            break
    return ramps


def register_load(database: Any, quick: bool) -> dict[str, Any]:
    """REGISTER/s: SQLite x1, PostgreSQL x1, PostgreSQL x2 (and x1 with other numbers of
    database workers), ramped in turns."""
    import psycopg

    if shutil.which("sipp") is None:
        return {"skipped": "sipp not found (Debian package sip-tester)"}
    seconds = 1.0 if quick else 4.0
    rates = (
        [200, 400] if quick else [300, 500, 700, 1000, 1300, 1600, 2000, 2500, 3000, 4000, 5000]
    )
    url = database.conninfo + PG_OPTIONS

    def pg_count() -> int:
        with psycopg.connect(database.conninfo) as conn:
            row = conn.execute("SELECT count(*) FROM sipref_binding").fetchone()
        return int(row[0]) if row else 0

    with tempfile.TemporaryDirectory(prefix="sipref-location-pg-bench-") as tmp:
        workdir = Path(tmp)
        sqlite_db = workdir / "location.db"

        def sqlite_count() -> int:
            if not sqlite_db.exists():
                return 0
            with sqlite3.connect(sqlite_db) as connection:
                return int(connection.execute("SELECT COUNT(*) FROM binding").fetchone()[0])

        # The PostgreSQL schema exists before the first count.
        from rfc3261.location_pg import PostgresLocationService

        PostgresLocationService(database.conninfo).close()
        cases: dict[str, Callable[[int], dict[str, Any]]] = {
            "sqlite_1": lambda r: _register_step(
                [str(sqlite_db)], r, seconds, workdir, sqlite_count
            ),
            "postgresql_1": lambda r: _register_step([url], r, seconds, workdir, pg_count),
            "postgresql_2": lambda r: _register_step([url, url], r, seconds, workdir, pg_count),
        }
        # One process on PostgreSQL with other numbers of database workers (0: every
        # REGISTER on the event loop, as before issue 24's workers): why the default.
        sizes = (0, 1) if quick else POOL_SIZES
        for size in sizes:
            extra = ("--db-workers", str(size))
            cases[f"workers_{size}"] = lambda r, e=extra: _register_step(
                [url], r, seconds, workdir, pg_count, e
            )
        ramps = _interleaved_ramps(cases, rates)
    result: dict[str, Any] = {"seconds_per_step": seconds, "db_workers": DEFAULT_BIND_WORKERS}
    result.update((name, ramps[name]) for name in MAIN_CASES)
    result["postgresql_1_by_workers"] = {
        str(size): {
            "best_rate": (ramps[f"workers_{size}"]["best"] or {}).get("rate"),
            "peak_answered_per_second": _peak(ramps[f"workers_{size}"]),
            "steps": ramps[f"workers_{size}"]["steps"],
        }
        for size in sizes
    }
    best = {name: (result[name]["best"] or {}).get("rate") for name in MAIN_CASES}
    if best["postgresql_1"] and best["postgresql_2"]:
        result["scaling_two_vs_one"] = round(best["postgresql_2"] / best["postgresql_1"], 3)
    if best["postgresql_1"] and best["sqlite_1"]:
        result["postgresql_vs_sqlite"] = round(best["postgresql_1"] / best["sqlite_1"], 3)
    # The ramp's steps are coarse: the highest rate SIPp saw answered in any step (the
    # last, overloaded one included) says more about capacity between two steps.
    peak = {name: _peak(result[name]) for name in MAIN_CASES}
    result["peak_answered_per_second"] = peak
    if peak["postgresql_1"] and peak["sqlite_1"]:
        result["peak_two_vs_one"] = round(peak["postgresql_2"] / peak["postgresql_1"], 3)
        result["peak_postgresql_vs_sqlite"] = round(peak["postgresql_1"] / peak["sqlite_1"], 3)
    return result


def _process_cpu(pid: int | None = None) -> tuple[float, float]:
    """(user, system) CPU seconds of this process, or of process ``pid``."""
    if pid is None:
        times = os.times()
        return times.user, times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def register_in_process(database: Any, quick: bool) -> dict[str, Any]:
    """CPU per REGISTER of ``Registrar.handle`` itself on SQLite and on PostgreSQL."""
    from rfc3261.location import SqliteLocationService
    from rfc3261.location_pg import PostgresLocationService
    from rfc3261.registrar import Registrar, RegistrarConfig
    from rfc3261.tests.server_support import register

    count, rounds, warm = (300, 1, 50) if quick else (3000, 3, 200)
    config = RegistrarConfig(domains=frozenset({"example.com"}))

    def measure(location: Any, tag: str, backend: int | None) -> dict[str, float]:
        registrar = Registrar(location, config)
        requests = [
            register(f"sip:u{tag}-{n}@example.com", contacts=(f"<sip:u{n}@127.0.0.1:5070>",),
                     expires=3600, call_id=f"{tag}-{n}")
            for n in range(warm + count)
        ]  # fmt: skip
        for request in requests[:warm]:
            registrar.handle(request, time.time())
        mine, theirs = _process_cpu(), _process_cpu(backend) if backend else (0.0, 0.0)
        started = time.perf_counter()
        for request in requests[warm:]:
            if registrar.handle(request, time.time()).status != 200:
                raise RuntimeError(f"{tag}: REGISTER refused")
        wall = time.perf_counter() - started
        after, server = _process_cpu(), _process_cpu(backend) if backend else (0.0, 0.0)
        per = 1e6 / count
        return {
            "cpu_us": round((sum(after) - sum(mine)) * per, 1),
            "user_us": round((after[0] - mine[0]) * per, 1),
            "system_us": round((after[1] - mine[1]) * per, 1),
            "server_cpu_us": round((sum(server) - sum(theirs)) * per, 1),
            "wall_us": round(wall * per, 1),
        }

    result: dict[str, Any] = {"registers_per_round": count, "sqlite": [], "postgresql": []}
    url = database.conninfo + PG_OPTIONS
    with tempfile.TemporaryDirectory(prefix="sipref-location-pg-cpu-") as tmp:
        for n in range(rounds):
            with SqliteLocationService(str(Path(tmp) / f"round{n}.db")) as sqlite:
                result["sqlite"].append(measure(sqlite, f"s{n}", None))
            with PostgresLocationService(url) as pg:
                result["postgresql"].append(measure(pg, f"p{n}", pg.backend_pid))
    median = {
        name: statistics.median(r["cpu_us"] for r in result[name])
        for name in ("sqlite", "postgresql")
    }
    result["cpu_us_median"] = median
    result["cpu_postgresql_over_sqlite"] = round(median["postgresql"] / median["sqlite"], 2)
    return result


def lookup_at_scale(database: Any, rows: int, samples: int) -> dict[str, Any]:
    """Look-up times with ``rows`` bindings in a fresh table (random AORs)."""
    import psycopg

    from rfc3261.location_pg import PostgresLocationService

    now = time.time()
    with psycopg.connect(database.conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE sipref_binding")
        conn.execute(
            "INSERT INTO sipref_binding (aor, contact, expires_at, call_id, cseq)"
            " SELECT 'sip:user' || i || '@example.com', 'sip:user' || i || '@192.0.2.1:5060',"
            " %s + (i %% 3600), 'call-' || i, 1 FROM generate_series(1, %s) AS i",
            (now + 60, rows),
        )
        conn.execute("VACUUM ANALYZE sipref_binding")
        plan = [
            row[0]
            for row in conn.execute(
                "EXPLAIN SELECT * FROM sipref_binding WHERE aor = %s AND expires_at > %s",
                ("sip:user7@example.com", now),
            )
        ]
    rng = random.Random(24)
    times: list[float] = []
    with PostgresLocationService(database.conninfo) as location:
        for _ in range(200):  # warm the connection and the prepared statement
            location.lookup(f"sip:user{rng.randint(1, rows)}@example.com", now)
        for _ in range(samples):
            aor = f"sip:user{rng.randint(1, rows)}@example.com"
            start = time.perf_counter()
            found = location.lookup(aor, now)
            times.append(time.perf_counter() - start)
            if len(found) != 1:
                raise RuntimeError(f"{aor}: {len(found)} bindings, expected 1")
        start = time.perf_counter()
        counted = location.count(now)
        count_seconds = time.perf_counter() - start
        start = time.perf_counter()
        location.expire(now)  # nothing is due: the index finds no row
        expire_seconds = time.perf_counter() - start
    times.sort()
    return {
        "bindings": rows,
        "samples": samples,
        "lookup_us_median": round(statistics.median(times) * 1e6, 1),
        "lookup_us_p99": round(times[int(len(times) * 0.99) - 1] * 1e6, 1),
        "plan": plan,
        "count_all_ms": round(count_seconds * 1e3, 1),
        "counted": counted,
        "expire_nothing_due_ms": round(expire_seconds * 1e3, 2),
    }


def run(options: Any = False) -> dict[str, Any]:
    """The benchmark document; ``options`` is a bool (quick) or rfc3261.bench.Options."""
    quick = options if isinstance(options, bool) else bool(getattr(options, "quick", False))
    from rfc3261.bench import machine_info

    doc: dict[str, Any] = {
        "name": NAME,
        "machine": machine_info(),
        # The machine may be shared: its load when the run began (1, 5, 15 minutes).
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "targets": {
            "two_vs_one_postgresql": TARGET_SCALING,
            "postgresql_vs_sqlite": TARGET_PG_VS_SQLITE,
        },
    }
    from rfc3261.tests.postgres_support import TempPostgres, find_postgres_bin

    bindir = find_postgres_bin()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        bindir = None
        doc["skipped"] = "psycopg not installed (pip install -e '.[postgresql]')"
    if bindir is None:
        doc.setdefault("skipped", "PostgreSQL not found (Debian package postgresql)")
        return doc
    database = TempPostgres(bindir, fsync=True)
    try:
        database.start()
        database.wait_ready()
        doc["register_in_process"] = register_in_process(database, quick)
        doc["register"] = register_load(database, quick)
        doc["lookup"] = [
            lookup_at_scale(database, rows, 200 if quick else 2000)
            for rows in ((1_000, 20_000) if quick else (1_000, 1_000_000))
        ]
    finally:
        database.close()
    doc["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return doc


def floors_passed(doc: dict[str, Any]) -> bool | None:
    """Both targets met (None when not measured)."""
    register = doc.get("register") or {}
    scaling, ratio = register.get("scaling_two_vs_one"), register.get("postgresql_vs_sqlite")
    if scaling is None or ratio is None:
        return None
    return scaling >= TARGET_SCALING and ratio >= TARGET_PG_VS_SQLITE


def render(doc: dict[str, Any]) -> str:
    load = doc.get("load_average_at_start")
    lines = [f"{NAME}: the location service on PostgreSQL (load average at start: {load})"]
    if "skipped" in doc:
        return lines[0] + f"\n  skipped: {doc['skipped']}"
    cpu = doc.get("register_in_process")
    if cpu:
        median = cpu["cpu_us_median"]
        server = statistics.median(r["server_cpu_us"] for r in cpu["postgresql"])
        lines.append(
            f"  in-process CPU per REGISTER: SQLite {median['sqlite']} us, PostgreSQL "
            f"{median['postgresql']} us (x{cpu['cpu_postgresql_over_sqlite']}) + {server} us"
            " in the PostgreSQL server"
        )
    register = doc["register"]
    if "skipped" in register:
        lines.append(f"  REGISTER: skipped ({register['skipped']})")
    else:
        for name in ("sqlite_1", "postgresql_1", "postgresql_2"):
            best = register[name]["best"]
            if best is None:
                lines.append(f"  {name:13} no clean step")
                continue
            lines.append(
                f"  {name:13} {best['rate']:>6} REGISTER/s clean, "
                f"{best['server_cpu_us_per_register']} us server CPU per REGISTER, "
                f"{best['persisted_bindings']} persisted, machine CPUs "
                f"{best.get('machine_busy', 0.0):.0%} busy"
            )
        lines.append(
            f"  two vs one on PostgreSQL: {register.get('scaling_two_vs_one')} "
            f"(target {TARGET_SCALING}); PostgreSQL vs SQLite: "
            f"{register.get('postgresql_vs_sqlite')} (target {TARGET_PG_VS_SQLITE})"
        )
        lines.append(
            f"  peak answered/s {register.get('peak_answered_per_second')}: two vs one "
            f"{register.get('peak_two_vs_one')}, PostgreSQL vs SQLite "
            f"{register.get('peak_postgresql_vs_sqlite')}"
        )
        sweep = register.get("postgresql_1_by_workers")
        if sweep:
            default = register.get("db_workers", DEFAULT_BIND_WORKERS)
            cells = [f"{size}: {entry['best_rate']} ({entry['peak_answered_per_second']})"
                     for size, entry in sweep.items()]  # fmt: skip
            lines.append(
                f"  one process on PostgreSQL by --db-workers, clean REGISTER/s (peak): "
                f"{', '.join(cells)}; default {default} above"
            )
    for entry in doc["lookup"]:
        lines.append(
            f"  lookup with {entry['bindings']:>9,} bindings: median {entry['lookup_us_median']}"
            f" us, p99 {entry['lookup_us_p99']} us; count(*) {entry['count_all_ms']} ms"
        )
    lines.append(f"  plan: {' / '.join(doc['lookup'][-1]['plan'])}")
    return "\n".join(lines)
