"""Fault injection (issue 22): `matcher build`, `upsert` and `delete` killed with SIGKILL at named points (the
MATCHER_FAULT_POINT hook, matcher.index.atomic.fault_point) and while indexing. After each kill: a reader (no repair)
finds the previous index intact, with the same records and search results (the new one where the kill came after the
swap), and the next run of the same command completes with the same records and results as a clean run, leaving no
work files. All killed runs go at once in one fixture; pytest -s prints the table: scenario, runs, records expected,
records found."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pandas as pd
import pytest
from index_procs import PATENTS, copy_index, leftovers, matcher_proc, new_records, snapshot
from typer.testing import CliRunner

from matcher.schema import Kind
from pipelines.main import app

pytestmark = pytest.mark.slow

READ_INPUTS = "rows read"  # the input report: the build is indexing from here on
# scenario -> (command, where it is killed, whether the new index is in place at that point)
SCENARIOS = {
    "build while indexing": ("build", READ_INPUTS, False),
    "build at swap:start": ("build", "swap:start", False),
    "build at swap:middle": ("build", "swap:middle", False),
    "build at swap:end": ("build", "swap:end", True),
    "upsert at writer:loaded": ("upsert", "writer:loaded", False),
    "upsert at swap:middle": ("upsert", "swap:middle", False),
    "upsert at swap:end": ("upsert", "swap:end", True),
    "delete at swap:start": ("delete", "swap:start", False),
    "delete at swap:middle": ("delete", "swap:middle", False),
}
TABLE: list[tuple[str, int, int, int]] = []


def _commands(tmp: Path) -> dict[str, list]:
    """Each command's arguments (without --index-dir): a one-side build (patents rebuilt from 31 records, the
    enterprises kept), an upsert of a new patent and a new enterprise, a delete of one of each."""
    subset = tmp / "subset.csv"
    pd.read_csv(PATENTS, dtype=str, keep_default_na=False).head(30).to_csv(subset, index=False)
    extra = new_records(tmp / "extra.csv", Kind.PATENT, ["FAULT-P-1"], start=40)
    return {
        "build": ["build", "--patents", subset, "--patents", extra],
        "upsert": ["upsert", "--patents", new_records(tmp / "p.csv", Kind.PATENT, ["FAULT-P-2"], start=41),
                   "--enterprises", new_records(tmp / "e.csv", Kind.ENTERPRISE, ["FAULT-D-1"], start=5)],
        "delete": ["delete", "--patent", "DEMO-P-050", "--enterprise", "DEMO-D-010"],
    }


def _run(*args):
    res = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res


def _kill_at(proc, marker: str, outcome: dict) -> None:
    """Read the process's stderr until `marker`, then SIGKILL it; record its exit status and stderr."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.stdout.close()
    outcome.update(returncode=proc.wait(), stderr="".join(seen))


@pytest.fixture(scope="module")
def faults(demo_index, tmp_path_factory, config, cache_dir):
    """Run every scenario's command in its own copy of the demo index, all at once, and kill each at its point;
    also the clean result of each command. Returns (before, clean, {scenario: (index, outcome)})."""
    tmp = tmp_path_factory.mktemp("faults")
    commands = _commands(tmp)
    env = pytest.MonkeyPatch()
    env.setenv("MATCHER_CACHE_DIR", str(cache_dir))  # every run (in-process and subprocesses) shares the cache
    before = snapshot(demo_index, config)
    clean = {}
    for name, args in commands.items():
        index = copy_index(demo_index, tmp / f"clean-{name}" / "index")
        _run(*args, "--index-dir", index)
        clean[name] = snapshot(index, config)
    runs, threads = {}, []
    for scenario, (command, point, _) in SCENARIOS.items():
        index = copy_index(demo_index, tmp / scenario.replace(" ", "-").replace(":", "-") / "index")
        marker = point if point == READ_INPUTS else f"MATCHER_FAULT_POINT {point} reached"
        hook = {} if point == READ_INPUTS else {"MATCHER_FAULT_POINT": point}
        proc = matcher_proc(*commands[command], "--index-dir", index, env=hook)
        outcome: dict = {}
        threads.append(threading.Thread(target=_kill_at, args=(proc, marker, outcome), daemon=True))
        threads[-1].start()
        runs[scenario] = (index, outcome, proc)
    for thread in threads:
        thread.join(timeout=600)
    for _index, _outcome, proc in runs.values():
        if proc.poll() is None:
            proc.kill()
    yield before, clean, {scenario: (index, outcome) for scenario, (index, outcome, _) in runs.items()}, commands
    env.undo()
    if TABLE:
        print("\n| scenario | runs | records expected | records found |\n|---|---|---|---|")
        for row in TABLE:
            print("| " + " | ".join(map(str, row)) + " |")


def _count(snap: dict) -> int:
    return sum(len(records) for records in snap["records"].values())


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_killed_writer_leaves_a_complete_index_and_the_next_run_completes(scenario, faults, config):
    before, clean, runs, commands = faults
    command, point, committed = SCENARIOS[scenario]
    index, outcome = runs[scenario]
    assert outcome.get("returncode") == -signal.SIGKILL, f"not killed at {point}: {outcome}"
    if point == "swap:middle":  # the old copy is only in the backup: readers read it, nobody repaired it
        assert not index.exists() and f".{index.name}.old" in leftovers(index)
    expected = clean[command] if committed else before
    found = snapshot(index, config)  # a reader: the previous index (the new one once swapped), never a mix
    assert found == expected
    TABLE.append((f"kill -9 `matcher {scenario}`: index read after the kill ({'new' if committed else 'previous'})",
                  1, _count(expected), _count(found)))
    res = _run(*commands[command], "--index-dir", index, "--lock-timeout", "30")  # the lock died with its holder
    assert "Traceback" not in res.output
    after = snapshot(index, config)
    assert after == clean[command]
    assert leftovers(index) == []
    TABLE.append((f"kill -9 `matcher {scenario}`: the next run", 1, _count(clean[command]), _count(after)))
