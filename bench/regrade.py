"""Throughput of `sandbox regrade --all` over many stored attempts, on every core and on one.

    python bench/regrade.py                        # 5,000 attempts on a fresh SQLite file
    python bench/regrade.py --database postgres    # the same on a fresh PostgreSQL database
    python bench/regrade.py --quick                # 300 attempts, to see that it works
    python bench/regrade.py --attempts 50000 --runs dry   # the memory target: one run

Set-up (not measured): a fresh database (an SQLite file in a temporary folder, or the
PostgreSQL database named by `--postgres-url`, whose name must start with `sandbox_bench`:
it is dropped and created again), migrated, then N graded practice attempts stored with bulk
inserts in one transaction, spread evenly over the bundled scenarios. Every attempt has 20
trainee lines, each distinct (a running number, so no per-message cache carries over between
attempts), and the persona's lines as the engine answers them (about 40 messages an attempt);
its grade is `grade_compiled(...).to_record()` plus `pack_version`, as the chat stores it.
The grade is computed once per scenario, on its first attempt, and stored with every attempt
of that scenario: the running number changes no verdict (the regrade checks it: the attempts
it finds changed are the stale ones, and the report prints both counts), and grading 50,000
transcripts only to store them took most of the set-up. A share of the attempts (`--stale`,
a fifth by default) is stored with a score 10 points off, as if graded by an earlier pack
version, so a regrade finds them changed and applying writes their grades.

Measured: the real command as a subprocess, with the settings the app uses for the bundled
packs (SANDBOX_DATABASE_URL, built-in packs, nothing else):
- `sandbox regrade --all --dry-run --jobs 1`   one worker process;
- `sandbox regrade --all --dry-run`            every core (the command's default);
- `sandbox regrade --all`                      every core, storing the changed grades.
For each: wall-clock seconds from start to exit (loading packs, reading the attempts,
grading, comparing, writing), attempts per second, the most worker processes seen at once,
and the CPU seconds of the command and its workers (CPU / wall = cores kept busy; the
PostgreSQL server's own CPU is not in it), and the peak resident memory, sampled every
0.2 s, of the command's own process and of the command with its workers. "progress bar" says whether the bar's label
reached stderr (not a terminal here, so rich draws it once, at the end). A run on an empty
database first gives the command's fixed start-up cost.

Every run is bounded in time (`--timeout`) and in count; only local addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluator import EN_TRAINEE, ZH_TRAINEE  # noqa: E402
from load import calibration_ms, fresh_postgres, load_library_for_bench, machine  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from sandbox.engine.conversation import Conversation  # noqa: E402
from sandbox.evaluator.grading import grade_compiled  # noqa: E402
from sandbox.evaluator.transcript import Transcript, TranscriptMessage  # noqa: E402
from sandbox.passwords import hash_password  # noqa: E402
from sandbox.scenarios.models import Pack, Scenario  # noqa: E402
from sandbox.storage.audit import AuditEvent  # noqa: E402
from sandbox.storage.database import make_engine, upgrade  # noqa: E402
from sandbox.storage.models import Attempt, AttemptMessage, Mode, Role, Speaker, User  # noqa: E402

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/sandbox_bench_regrade"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
ATTEMPTS_PER_TRAINEE = 50
BATCH = 500
TURN_S = 15.0
STALE_POINTS = 10.0
# Two of the Chinese lines read as a goodbye to some personas, who then end the chat early:
# neutral lines in their place, so only the last line closes the conversation.
ZH_LINES = [
    *ZH_TRAINEE[:9],
    "我再帮您确认一下库存和配送时间。",
    *ZH_TRAINEE[10:18],
    "如果还有问题，您可以在订单页面留言。",
    ZH_TRAINEE[19],
]
SUMMARY = re.compile(r"(\d+) attempts checked; (\d+) (?:would change|regraded)")


# ----------------------------------------------------------------------------- set-up


@dataclass
class Template:
    """A bundled scenario with the persona's answers to the bench's 20 trainee lines."""

    pack: Pack
    scenario: Scenario
    lines: list[str]
    # (role, kind, text or None for the trainee line i, at, trainee index)
    script: list[tuple[Speaker, str | None, str | None, float, int]]


def templates() -> tuple[list[Template], list[str]]:
    """Every bundled scenario whose persona takes all 20 lines (the others end earlier)."""
    library = load_library_for_bench()
    usable: list[Template] = []
    skipped: list[str] = []
    for pack, scenario in library.scenarios():
        lines = EN_TRAINEE if pack.locale == "en" else ZH_LINES
        trainee = [
            (distinct(line, pack.locale, 0, i), TURN_S * (i + 1)) for i, line in enumerate(lines)
        ]
        conversation = Conversation.replay(
            pack.compiled[scenario.id], pack.locale, trainee, float(scenario.time_limit_s)
        )
        script: list[tuple[Speaker, str | None, str | None, float, int]] = []
        index = 0
        for message in conversation.messages:
            if message.role == Speaker.TRAINEE:
                script.append((Speaker.TRAINEE, "trainee", None, float(message.at), index))
                index += 1
            else:
                script.append((Speaker.PERSONA, message.kind, message.text, float(message.at), -1))
        if index == len(lines):
            usable.append(Template(pack, scenario, lines, script))
        else:
            skipped.append(f"{pack.id}/{scenario.id}")
    return usable, skipped


def distinct(line: str, locale: str, n: int, i: int) -> str:
    text = line.format(n=n)
    return f"{text} #{n}-{i}" if locale == "en" else f"{text}（{n}-{i}）"


def attempt_rows(
    template: Template,
    n: int,
    user_id: int,
    stale: bool,
    started: datetime,
    graded: dict[str, dict[str, Any]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One graded attempt (a row of `attempts`) and its messages (rows without attempt_id).
    `graded` keeps each scenario's grade record, computed on its first attempt."""
    pack, scenario = template.pack, template.scenario
    messages: list[dict[str, Any]] = []
    for seq, (role, kind, text, at, index) in enumerate(template.script):
        if text is None:
            text = distinct(template.lines[index], pack.locale, n, index)
        messages.append(
            {
                "seq": seq,
                "role": str(role),
                "text": text,
                "at": at,
                "kind": kind,
                "created_at": started + timedelta(seconds=at),
                "client_id": None,
            }
        )
    time_limit_s = float(scenario.time_limit_s)
    key = f"{pack.id}/{scenario.id}"
    if key not in graded:
        transcript = Transcript(
            pack.id,
            scenario.id,
            [TranscriptMessage(m["role"], m["text"], m["at"]) for m in messages],
        )
        graded[key] = grade_compiled(
            pack.id, pack.compiled[scenario.id], transcript, time_limit_s
        ).to_record()
        graded[key]["pack_version"] = pack.version
    record = dict(graded[key])
    if stale:  # graded by an earlier version of the pack: the headline score differs
        score = float(record["score"])
        record["score"] = score - STALE_POINTS if score >= STALE_POINTS else score + STALE_POINTS
    ended = started + timedelta(seconds=messages[-1]["at"])
    attempt = {
        "user_id": user_id,
        "pack_id": pack.id,
        "pack_version": pack.version,
        "scenario_id": scenario.id,
        "mode": str(Mode.PRACTICE),
        "time_limit_s": time_limit_s,
        "started_at": started,
        "ended_at": ended,
        "end_reason": "completed",
        "score": float(record["score"]),
        "band": str(record["band"]),
        "passed": bool(record["passed"]),
        "grade": record,
        "graded_at": ended,
        "exam_id": None,
        "retake": False,
        "grace_s": 0.0,
        "deadline_at": None,
    }
    return attempt, messages


def populate(engine: Engine, count: int, stale_share: float) -> dict[str, Any]:
    """`count` graded practice attempts on the bundled scenarios, in bulk inserts."""
    usable, skipped = templates()
    if not usable:
        raise SystemExit("no bundled scenario takes the bench's 20 trainee lines")
    trainees = max(1, -(-count // ATTEMPTS_PER_TRAINEE))
    password_hash = hash_password("bench password 0")
    now = datetime.now(UTC)
    attempts_table = Attempt.__table__  # type: ignore[attr-defined]
    messages_table = AttemptMessage.__table__  # type: ignore[attr-defined]
    users_table = User.__table__  # type: ignore[attr-defined]
    rng = random.Random(0)
    stale = 0
    graded: dict[str, dict[str, Any]] = {}
    # One transaction for everything: users, attempts and messages, in batches of BATCH.
    with engine.begin() as connection:
        user_ids = list(
            connection.execute(
                insert(users_table).returning(users_table.c.id, sort_by_parameter_order=True),
                [
                    {
                        "name": f"regrade-{i:05d}",
                        "role": str(Role.TRAINEE),
                        "locale": None,
                        "mentor_id": None,
                        "active": True,
                        "password_hash": password_hash,
                        "created_at": now,
                    }
                    for i in range(trainees)
                ],
            ).scalars()
        )
        for start in range(0, count, BATCH):
            attempts: list[dict[str, Any]] = []
            messages: list[list[dict[str, Any]]] = []
            for n in range(start, min(count, start + BATCH)):
                is_stale = rng.random() < stale_share
                stale += is_stale
                attempt, lines = attempt_rows(
                    usable[n % len(usable)],
                    n,
                    user_ids[n % len(user_ids)],
                    is_stale,
                    now - timedelta(days=30) + timedelta(minutes=n),
                    graded,
                )
                attempts.append(attempt)
                messages.append(lines)
            ids = (
                connection.execute(
                    insert(attempts_table).returning(
                        attempts_table.c.id, sort_by_parameter_order=True
                    ),
                    attempts,
                )
                .scalars()
                .all()
            )
            connection.execute(
                insert(messages_table),
                [
                    {**m, "attempt_id": i}
                    for i, lines in zip(ids, messages, strict=True)
                    for m in lines
                ],
            )
            if start and start % (10 * BATCH) == 0:
                print(f"stored {start:,} of {count:,} attempts", file=sys.stderr, flush=True)
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(messages_table)).scalar_one()
    return {
        "attempts": count,
        "stale": stale,
        "trainees": trainees,
        "messages": int(stored),
        "messages_per_attempt": round(int(stored) / count, 1),
        "scenarios": len(usable),
        "scenarios_skipped": skipped,
    }


# ----------------------------------------------------------------------------- runs


@dataclass
class Run:
    """What one `sandbox regrade` run measured."""

    database: str
    name: str
    args: list[str]
    attempts: int
    seconds: float = 0.0
    checked: int | None = None
    changed: int | None = None
    processes_seen: int = 0
    # Resident memory, sampled every 0.2 s: the command and its workers together (a forked
    # worker shares most pages with the command, so this counts them more than once), and
    # the command's own process.
    peak_rss_mb: float = 0.0
    peak_command_rss_mb: float = 0.0
    cpu_s: float = 0.0
    progress_bar: bool = False
    returncode: int | None = None
    stderr_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return (self.checked or 0) / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["attempts_per_s"] = round(self.per_s, 1)
        data["seconds"] = round(self.seconds, 2)
        data["cpu_s"] = round(self.cpu_s, 2)
        data["cores_busy"] = round(self.cpu_s / self.seconds, 2) if self.seconds else None
        return data


def children_of(pid: int) -> int:
    """How many processes have `pid` as their parent (read from /proc)."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid):
            count += 1
    return count


def tree_rss_mb(pid: int) -> float:
    """The resident memory of `pid` and its child processes, in MB (read from /proc)."""
    pids = [str(pid)]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid):
            pids.append(entry)
    total_kb = 0
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def own_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def regrade_env(database_url: str, var_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "SANDBOX_DATABASE_URL": database_url,
        "SANDBOX_PACKS": "",
        "SANDBOX_BUILTIN_PACKS": "true",
        "SANDBOX_VAR_DIR": str(var_dir),
    }
    env.pop("SANDBOX_DEBUG", None)
    return env


def run_regrade(run: Run, env: dict[str, str], timeout_s: float) -> Run:
    """The command as a subprocess, timed, its worker processes counted while it runs."""
    command = [sys.executable, "-m", "sandbox", "regrade", *run.args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = threading.Event()
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=ROOT, text=True)

        def watch() -> None:
            while not done.wait(0.2):
                run.processes_seen = max(run.processes_seen, children_of(process.pid))
                run.peak_rss_mb = max(run.peak_rss_mb, tree_rss_mb(process.pid))
                run.peak_command_rss_mb = max(run.peak_command_rss_mb, own_rss_mb(process.pid))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            run.returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            run.returncode = None
        run.seconds = time.perf_counter() - started
        done.set()
        watcher.join()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run.progress_bar = "regrading" in stderr
    found = SUMMARY.search(stdout)
    if found:
        run.checked, run.changed = int(found.group(1)), int(found.group(2))
    problems = [line for line in stderr.splitlines() if "not regraded" in line]
    run.extra["not_regraded"] = len(problems)
    run.extra["stdout_lines"] = len(stdout.splitlines())
    if run.returncode != 0 or run.checked is None:
        run.stderr_tail = stderr[-2000:]
    return run


#: The runs `--runs` chooses from: name -> (label, the command's arguments).
RUNS = {
    "dry1": ("dry run, 1 process", ["--all", "--dry-run", "--jobs", "1"]),
    "dry": ("dry run, every core ({cores})", ["--all", "--dry-run"]),
    "apply": ("apply, every core ({cores})", ["--all"]),
}


def bench(
    database: str,
    database_url: str,
    count: int,
    stale: float,
    timeout_s: float,
    var_dir: Path,
    chosen: list[str],
) -> tuple[dict[str, Any], list[Run]]:
    engine = make_engine(database_url)
    upgrade(engine)
    env = regrade_env(database_url, var_dir)
    # The command's fixed cost (imports, packs, database check) on the migrated, empty database.
    empty = run_regrade(
        Run(database, "start-up, no attempts", ["--all", "--dry-run"], 0), env, timeout_s
    )
    if empty.returncode != 0:
        raise SystemExit(f"sandbox regrade failed on an empty database:\n{empty.stderr_tail}")
    started = time.perf_counter()
    setup = populate(engine, count, stale)
    setup["seconds"] = round(time.perf_counter() - started, 1)
    setup["startup_s"] = round(empty.seconds, 2)
    engine.dispose()
    print(f"== {database}: stored {json.dumps(setup)}", file=sys.stderr, flush=True)
    cores = os.cpu_count() or 1
    plan = [(RUNS[key][0].format(cores=cores), RUNS[key][1]) for key in chosen]
    runs = []
    for name, args in plan:
        run = run_regrade(Run(database, name, args, count), env, timeout_s)
        run.extra["load_average"] = round(os.getloadavg()[0], 2)
        print(json.dumps(run.summary()), file=sys.stderr, flush=True)
        runs.append(run)
    # What applying stored: the audit events of the regrade, one per changed attempt.
    engine = make_engine(database_url)
    with engine.connect() as connection:
        events = AuditEvent.__table__  # type: ignore[attr-defined]
        setup["regrade_audit_events"] = connection.execute(
            select(func.count()).select_from(events).where(events.c.action == "grade.regrade")
        ).scalar_one()
    engine.dispose()
    return setup, runs


# ----------------------------------------------------------------------------- report


def table(runs: list[Run]) -> str:
    rows = [
        "| database | run | attempts | changed | worker processes | seconds | attempts/s "
        "| CPU s (all processes) | cores busy | peak MB (command) | peak MB (with workers) "
        "| progress bar |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in runs:
        s = run.summary()
        rows.append(
            f"| {run.database} | {run.name} | {run.checked if run.checked is not None else 'failed'} "
            f"| {run.changed if run.changed is not None else '-'} | {run.processes_seen} "
            f"| {s['seconds']:.1f} | {s['attempts_per_s']:,.0f} | {s['cpu_s']:.1f} "
            f"| {s['cores_busy']:.2f} | {run.peak_command_rss_mb:.0f} | {run.peak_rss_mb:.0f} "
            f"| {'yes' if run.progress_bar else 'no'} |"
        )
    return "\n".join(rows)


def local_postgres(url: str) -> str:
    host = make_url(url).host or "127.0.0.1"
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"--postgres-url must be on this machine, not {host!r}")
    return url


@dataclass
class Figures:
    machine: str
    cpu_count: int
    calibration_before_ms: float = 0.0
    calibration_after_ms: float = 0.0
    setups: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--attempts", type=int, help="stored attempts (5,000; --quick 300)")
    parser.add_argument("--quick", action="store_true", help="a small run to see that it works")
    parser.add_argument(
        "--stale", type=float, default=0.2, help="share of attempts whose stored grade differs"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed a run")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--runs",
        default=",".join(RUNS),
        help=f"which runs, comma-separated, in order (default and choices: {','.join(RUNS)})",
    )
    args = parser.parse_args()
    count = args.attempts or (300 if args.quick else 5000)
    if not 1 <= count <= 200_000:
        raise SystemExit("--attempts must be between 1 and 200,000")
    if not 0.0 <= args.stale <= 1.0:
        raise SystemExit("--stale must be between 0 and 1")
    chosen = [key.strip() for key in args.runs.split(",") if key.strip()]
    unknown = [key for key in chosen if key not in RUNS]
    if unknown or not chosen:
        raise SystemExit(f"--runs: choose from {', '.join(RUNS)} (got {args.runs!r})")
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]

    figures = Figures(machine=machine(), cpu_count=os.cpu_count() or 1)
    figures.calibration_before_ms = round(calibration_ms(), 1)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-regrade-") as name:
        folder = Path(name)
        for database in databases:
            if database == "sqlite":
                url = f"sqlite:///{folder / 'regrade.db'}"
            else:
                url = fresh_postgres(local_postgres(args.postgres_url))
            setup, found = bench(database, url, count, args.stale, args.timeout, folder, chosen)
            figures.setups[database] = setup
            runs.extend(found)
    figures.calibration_after_ms = round(calibration_ms(), 1)
    figures.runs = [run.summary() for run in runs]

    print(f"Machine: {figures.machine}")
    print(
        f"Calibration loop: {figures.calibration_before_ms:.0f} ms before, "
        f"{figures.calibration_after_ms:.0f} ms after (60 to 90 on an idle core)"
    )
    for database, setup in figures.setups.items():
        print(
            f"{database}: {setup['attempts']:,} graded attempts on {setup['scenarios']} scenarios, "
            f"{setup['messages_per_attempt']} messages each on average, "
            f"{setup['stale']:,} with a stale grade, stored in {setup['seconds']:.0f} s; "
            f"the command's start-up with no attempts: "
            f"{setup['startup_s']:.1f} s; audit events written by applying: "
            f"{setup['regrade_audit_events']:,}"
        )
    print()
    print(table(runs))
    for run in runs:
        if run.returncode != 0 or run.checked is None:
            print(f"\n{run.database} / {run.name}: exit {run.returncode}\n{run.stderr_tail}")
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=2) + "\n", encoding="utf-8")
    if any(run.returncode != 0 or run.checked is None for run in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
