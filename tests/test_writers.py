"""Writers of an index one at a time (issue 22, items 1 and 5): the writer lock (exclusive across processes, waits with
a message, times out with a clear error, re-entrant), readers that never repair and read across a swap, concurrent
`matcher upsert` runs that keep every record, an upsert during `matcher match` and during a loop of searches, and
`matcher build` of one side keeping the other. The subprocess tests print a table: scenario, runs, records expected,
records found (pytest -s shows it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from index_procs import ENTERPRISES, PATENTS, ROOT, copy_index, leftovers, matcher_proc, new_records, snapshot
from typer.testing import CliRunner

from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.index import atomic
from matcher.index.atomic import atomic_dir, read_stable
from matcher.index.collection import Collection
from matcher.index.lock import held, lock_path, lock_timeout, writer_lock
from matcher.schema import Kind
from pipelines.main import app

TABLE: list[tuple[str, int, int, int]] = []


@pytest.fixture(scope="module", autouse=True)
def _table():
    """Print the concurrency table once the module has run."""
    yield
    if TABLE:
        print("\n| scenario | runs | records expected | records found |\n|---|---|---|---|")
        for row in TABLE:
            print("| " + " | ".join(map(str, row)) + " |")


@pytest.fixture(autouse=True)
def _shared_cache(monkeypatch, cache_dir):
    """Every command (in-process and in subprocesses) embeds through the session's cache."""
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


HOLDER = textwrap.dedent("""
    import sys
    from matcher.index.lock import writer_lock
    with writer_lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()
""")


def hold_lock(index) -> subprocess.Popen:
    """Another process that holds the writer lock of `index` until its stdin is closed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(index)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def release(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


# --------------------------------------------------------------------------- the lock
def test_the_lock_waits_with_a_message_naming_the_holder_and_times_out_clearly(tmp_path):
    index = tmp_path / "index"
    holder = hold_lock(index)
    try:
        said = []
        with pytest.raises(MatcherError) as exc:
            with writer_lock(index, timeout=0.2, on_wait=said.append):
                pass
        assert said == [f"waiting for another writer of {index} (pid {holder.pid}) ..."]
        assert f"pid {holder.pid}" in str(exc.value) and "--lock-timeout" in str(exc.value)
        assert not held(index)
    finally:
        release(holder)
    assert lock_path(index) == tmp_path / "index.lock"


def test_the_lock_is_taken_as_soon_as_the_other_writer_lets_go(tmp_path):
    index = tmp_path / "index"
    holder = hold_lock(index)
    said = []

    def waiting(message):  # the other writer finishes while this one waits
        said.append(message)
        threading.Thread(target=release, args=(holder,)).start()

    with writer_lock(index, timeout=60, on_wait=waiting):
        assert held(index)
        assert lock_path(index).read_text().strip() == str(os.getpid())
    assert len(said) == 1 and not held(index)


def test_the_lock_is_reentrant_in_a_thread_and_exclusive_between_threads(tmp_path):
    index = tmp_path / "index"
    other: list[BaseException | None] = []

    def other_thread():
        try:
            with writer_lock(index, timeout=0):
                other.append(None)
        except MatcherError as exc:
            other.append(exc)

    with writer_lock(index):
        with writer_lock(index, timeout=0):  # the same thread again: no wait, no deadlock
            assert held(index)
        assert held(index)
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert isinstance(other[0], MatcherError)
    assert not held(index)


def test_the_timeout_comes_from_the_environment_and_a_bad_value_is_named(monkeypatch):
    monkeypatch.setenv("MATCHER_LOCK_TIMEOUT", "2.5")
    assert lock_timeout() == 2.5 and lock_timeout(1) == 1.0
    monkeypatch.setenv("MATCHER_LOCK_TIMEOUT", "soon")
    with pytest.raises(MatcherError, match="MATCHER_LOCK_TIMEOUT='soon'"):
        lock_timeout()


def test_a_writer_that_cannot_get_the_lock_gets_a_one_line_error(demo_index, tmp_path):
    index = copy_index(demo_index, tmp_path / "index")
    holder = hold_lock(index)
    try:
        for args in (["upsert", "--patents", new_records(tmp_path / "p.csv", Kind.PATENT, ["LOCK-P-1"])],
                     ["delete", "--patent", "DEMO-P-001"], ["build", "--patents", PATENTS]):
            res = run(*args, "--index-dir", index, "--lock-timeout", "0")
            assert res.exit_code == 2, res.output
            assert "Traceback" not in res.output
            lines = [line for line in res.stderr.splitlines() if line.strip()]
            assert lines[-2] == f"waiting for another writer of {index} (pid {holder.pid}) ..."
            assert lines[-1].startswith("error: another writer of") and "--lock-timeout" in lines[-1]
    finally:
        release(holder)
    assert Matcher.stored_counts(index) == {Kind.PATENT: 60, Kind.ENTERPRISE: 40}


# --------------------------------------------------------------------------- readers
def _mid_swap(index, *, keep_target: bool):
    """The folder as a writer that died in its swap leaves it: the old copy moved to the backup (and, past the
    second rename, a new copy in place)."""
    backup = index.parent / f".{index.name}.old"
    index.rename(backup)
    if keep_target:
        copy_index(backup, index)
    return backup


def test_a_reader_reads_the_backup_mid_swap_and_never_repairs(demo_index, tmp_path, config):
    index = copy_index(demo_index, tmp_path / "index")
    before = snapshot(index, config)
    backup = _mid_swap(index, keep_target=False)
    assert snapshot(index, config) == before  # the last complete copy
    assert backup.is_dir() and not index.exists()  # nothing renamed by a reader
    with Matcher.lock(index):  # a writer repairs first
        Matcher.load(index, config)
    assert index.is_dir() and not backup.exists()
    assert snapshot(index, config) == before


def test_a_reader_leaves_a_finished_swap_alone(demo_index, tmp_path, config):
    index = copy_index(demo_index, tmp_path / "index")
    backup = _mid_swap(index, keep_target=True)
    assert Matcher.load(index, config).count() == 100
    assert backup.is_dir()


def test_a_reader_that_meets_a_swap_reads_again(demo_index, tmp_path, config, monkeypatch, demo_patents):
    index = copy_index(demo_index, tmp_path / "index")
    newer = Matcher.load(index, config)
    newer.index(Kind.PATENT, demo_patents.head(1).assign(id="SWAP-P-1"))
    real_load = Collection.load
    calls = []

    def load_during_a_swap(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 1:  # a writer swaps the folder while the reader is in it, and the reader trips over it
            newer.save(index)
            raise MatcherError(f"index at {args[0]} is inconsistent (manifest 60 rows, records 61): rebuild it")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(Collection, "load", staticmethod(load_during_a_swap))
    assert "SWAP-P-1" in Matcher.load(index, config).collection(Kind.PATENT)
    assert len(calls) == 3  # the failed patent side, then both sides of the new copy


def test_a_damaged_index_fails_at_once_with_its_message(demo_index, tmp_path, config, monkeypatch):
    index = copy_index(demo_index, tmp_path / "index")
    calls = []

    def damaged(*args, **kwargs):
        calls.append(args[0])
        raise MatcherError(f"index at {args[0]} is damaged: rebuild it with `matcher build`")

    monkeypatch.setattr(Collection, "load", staticmethod(damaged))
    with pytest.raises(MatcherError, match="is damaged"):
        Matcher.load(index, config)
    assert len(calls) == 1  # no swap under way: no retry


def test_read_stable_swapped_under_at_every_try_gives_up_with_a_message(tmp_path, monkeypatch):
    target = tmp_path / "folder"
    target.mkdir()
    monkeypatch.setattr(atomic.time, "sleep", lambda seconds: None)
    tries = []

    def read_while_a_writer_swaps(folder):
        tries.append(folder)
        with atomic_dir(target) as tmp:
            (tmp / "data").write_text(str(len(tries)))
        return "a copy that was replaced meanwhile"

    with pytest.raises(MatcherError, match="replaced 6 times while it was read: try again"):
        read_stable(target, read_while_a_writer_swaps)
    assert len(tries) == atomic.READ_ATTEMPTS
    assert read_stable(target, lambda folder: (folder / "data").read_text()) == "6"


def test_a_reader_swapped_under_at_every_try_reads_in_the_writers_turn(demo_index, tmp_path, config, monkeypatch,
                                                                       demo_patents):
    index = copy_index(demo_index, tmp_path / "index")
    newer = Matcher.load(index, config)
    newer.index(Kind.PATENT, demo_patents.head(1).assign(id="SWAP-P-2"))
    monkeypatch.setattr(atomic.time, "sleep", lambda seconds: None)
    real_load = Collection.load
    swaps = []

    def load_while_writers_swap(*args, **kwargs):
        if not held(index):  # writers swap whenever the reader is not in their queue
            newer.save(index)
            swaps.append(args[0])
        return real_load(*args, **kwargs)

    monkeypatch.setattr(Collection, "load", staticmethod(load_while_writers_swap))
    loaded = Matcher.load(index, config)
    assert "SWAP-P-2" in loaded.collection(Kind.PATENT) and loaded.count() == 101
    assert len(swaps) >= atomic.READ_ATTEMPTS and not held(index)


# --------------------------------------------------------------------------- build one side
def test_building_one_side_keeps_the_other_unless_replace_all(demo_index, tmp_path, config):
    index = copy_index(demo_index, tmp_path / "index")
    patents = new_records(tmp_path / "p.csv", Kind.PATENT, ["ONE-P-1", "ONE-P-2", "ONE-P-3"])
    enterprises_before = snapshot(index, config)["records"]["enterprise"]
    res = run("build", "--patents", patents, "--index-dir", index)
    assert res.exit_code == 0, res.output
    assert "patent: 3 added, 0 changed, 60 deleted, 0 unchanged (3 records)" in res.stdout  # the saved index updated
    assert "enterprise: kept from the current index (40 records; --replace-all drops them)" in res.stdout
    after = snapshot(index, config)
    assert [rid for rid, _ in after["records"]["patent"]] == ["ONE-P-1", "ONE-P-2", "ONE-P-3"]
    assert after["records"]["enterprise"] == enterprises_before
    res = run("build", "--enterprises", ENTERPRISES, "--index-dir", index)  # the other side: patents kept
    assert "patent: kept from the current index (3 records" in res.stdout
    assert Matcher.stored_counts(index) == {Kind.PATENT: 3, Kind.ENTERPRISE: 40}
    res = run("build", "--patents", patents, "--replace-all", "--index-dir", index)
    assert res.exit_code == 0, res.output
    assert "enterprise: dropped (40 records, --replace-all)" in res.stdout
    assert Matcher.stored_counts(index) == {Kind.PATENT: 3}
    assert leftovers(index) == []


def test_building_one_side_refuses_to_keep_a_side_of_another_encoder(demo_index, tmp_path):
    index = copy_index(demo_index, tmp_path / "index")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"segment_mode": "accurate"}), encoding="utf-8")
    res = run("build", "--patents", PATENTS, "--config", other, "--index-dir", index)
    assert res.exit_code == 2 and "Traceback" not in res.output
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("error: cannot keep the enterprises") and "--replace-all" in line
    assert Matcher.stored_counts(index) == {Kind.PATENT: 60, Kind.ENTERPRISE: 40}


# --------------------------------------------------------------------------- concurrent writers (subprocesses)
WRITER = textwrap.dedent("""
    import json, sys, time, pathlib
    from typer.testing import CliRunner
    from pipelines.main import app
    index, go, files = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.01)
    for f in files:  # one `matcher upsert` after the other, while the other writers do the same
        res = CliRunner().invoke(app, ["upsert", "--patents", f, "--index-dir", index], env={"COLUMNS": "200"})
        print(json.dumps({"exit": res.exit_code, "out": res.output}), flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("writers", [2, 4])
def test_concurrent_upserts_keep_every_record(writers, demo_index, tmp_path, config):
    """N writer processes, released together, each running 3 (N = 2) or 2 (N = 4) `matcher upsert` of its own new
    patents in a row."""
    rounds = 3 if writers == 2 else 2
    index = copy_index(demo_index, tmp_path / "index")
    go = tmp_path / "go"
    ids = [[f"CONC-{writers}-{w}-{r}" for r in range(rounds)] for w in range(writers)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(index), str(go),
                               *(str(new_records(tmp_path / f"{rid}.csv", Kind.PATENT, [rid], start=w * rounds + r))
                                 for r, rid in enumerate(mine))],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
             for w, mine in enumerate(ids)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in stderr, stderr
        results = [json.loads(line) for line in stdout.splitlines()]
        assert len(results) == rounds
        for res in results:
            assert res["exit"] == 0 and "patent: 1 added, 0 replaced" in res["out"], res["out"]
    expected = {rid for mine in ids for rid in mine}
    held_ids = set(Matcher.load(index, config).collection(Kind.PATENT).ids)
    assert expected <= held_ids and len(held_ids) == 60 + len(expected)
    assert leftovers(index) == []
    TABLE.append((f"{writers} writer processes at once, {rounds} `matcher upsert` each", len(expected), len(expected),
                  len(held_ids & expected)))


@pytest.mark.slow
def test_an_upsert_during_match_leaves_match_a_consistent_index(demo_index, tmp_path, config):
    index = copy_index(demo_index, tmp_path / "index")
    old = Matcher.load(index, config)
    patents = new_records(tmp_path / "p.csv", Kind.PATENT, ["MATCH-P-1"])
    match = matcher_proc("match", "--index-dir", index, "--out", tmp_path / "out", "--formats", "csv", "-k", "3")
    upsert = matcher_proc("upsert", "--patents", patents, "--index-dir", index)
    for proc in (upsert, match):
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in stderr, stderr
    new = Matcher.load(index, config)
    hashes = {name: {m.get(Kind.PATENT).manifest().data_hash} for name, m in (("old", old), ("new", new))}
    run_manifest = json.loads((tmp_path / "out" / "matches" / "run_manifest.json").read_text(encoding="utf-8"))
    ranked = run_manifest["index"]["patent"]
    assert ranked["data_hash"] in hashes["old"] | hashes["new"]
    assert ranked["rows"] in (60, 61)
    TABLE.append(("`matcher upsert` during `matcher match`", 2, 61, new.count(Kind.PATENT)))


READER = textwrap.dedent("""
    import sys, pathlib
    from matcher.encode import load_encoder
    from matcher.engine import Matcher
    index, stop = sys.argv[1], pathlib.Path(sys.argv[2])
    encoder = load_encoder(sys.argv[3])
    reads, read = [0], Matcher._read.__func__
    def counted(cls, *args, **kwargs):  # reads per load: more than one when the load met a swap
        reads[0] += 1
        return read(cls, *args, **kwargs)
    Matcher._read = classmethod(counted)
    while not stop.exists():
        reads[0] = 0
        try:
            m = Matcher.load(index, encoder=encoder)
            top = m.search("可降解薄膜", "patent", k=3)[0].matches
            print(f"load {m.count('patent')} {m.count('enterprise')} {len(top)} {reads[0]}", flush=True)
        except Exception as exc:
            print(f"error {type(exc).__name__}: {exc}", flush=True)
""")


@pytest.mark.slow
def test_searches_in_another_process_never_fail_while_writers_swap(demo_index, tmp_path, config, fast_encoder,
                                                                  demo_patents):
    """Another process loads and searches in a loop while this one swaps the index again and again (alternating
    between two states, under the writer lock) and then runs `matcher upsert` / `delete`: every load succeeds and
    finds one of the states that were saved."""
    index = copy_index(demo_index, tmp_path / "index")
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(index), str(stop), fast_encoder], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    lines: list[str] = []
    collect = threading.Thread(target=lambda: lines.extend(iter(reader.stdout.readline, "")), daemon=True)
    collect.start()
    states = [Matcher.load(index, config), Matcher.load(index, config)]
    states[1].index(Kind.PATENT, demo_patents.head(1).assign(id="LOOP-P-X"))
    swaps = 0
    try:
        while len(lines) < 6 and swaps < 200 and reader.poll() is None:  # swap until the reader has loaded 6 times
            states[swaps % 2].save(index)
            swaps += 1
            time.sleep(1.0)  # a writer's own work between two swaps, about as long as a load: some loads meet a swap
        ids = [f"LOOP-P-{i}" for i in range(2)]
        for i, rid in enumerate(ids):
            res = run("upsert", "--patents", new_records(tmp_path / f"{rid}.csv", Kind.PATENT, [rid], start=i),
                      "--index-dir", index)
            assert res.exit_code == 0, res.output
        res = run("delete", "--patent", ids[0], "--index-dir", index)
        assert res.exit_code == 0, res.output
    finally:
        stop.touch()
        _, stderr = reader.communicate(timeout=120)
        collect.join(timeout=30)
    errors = [line for line in lines if line.strip() and not line.startswith("load ")]  # a stray blank line is no error
    assert errors == [] and "Traceback" not in stderr, errors[:3]
    loads = [tuple(map(int, line.split()[1:])) for line in lines]
    assert len(loads) >= 6
    assert {load[:3] for load in loads} <= {(n, 40, 3) for n in (60, 61, 62, 63)}  # saved states only, all answered
    met_a_swap = sum(load[3] > 1 for load in loads)
    found = Matcher.load(index, config).count(Kind.PATENT)
    expected = 60 + (swaps - 1) % 2 + 1  # the state saved last (with LOOP-P-X or not) plus LOOP-P-1
    assert found == expected
    TABLE.append((f"{swaps} swaps + 2 upserts + 1 delete during {len(loads)} loads + searches in another process "
                  f"({met_a_swap} met a swap and read again; 0 errors)", swaps + 3, expected, found))
