#!/usr/bin/env python
"""Fuzz shapecheck with broken and hostile models and count how every input ends.

A linter that runs in CI on downloaded files must end every input in a report (exit 0 or 1) or in a
clear, one-line load error (exit 2) — never an uncaught exception, never a hang. This script feeds
``check_file`` (the whole pipeline: loader, propagation, every rule, the NumPy confirmation) and the
JSON and text renderers with:

* ONNX bytes: bit flips, byte overwrites/inserts/deletes, truncations and splices of the ONNX fixtures
  and of the light models shipped in the onnx wheel, and structure-aware edits (a parsed seed model with
  one to three hostile fields) that get past protobuf and into the engine;
* YAML text: hypothesis-generated model documents, line/token/character mutations and value-level
  mutations of the YAML fixtures and of every rule's docstring example, and alias bombs.

Outcomes: ``report-0``/``report-1`` (the exit code the linter would give: 1 when an error-severity
finding is reported), ``report-sc901`` (a report that contains SC901 — shapecheck caught its own
internal error: not a crash, but a bug to look at), ``load-error`` (exit 2 with a clear one-line
message), ``unclear-error`` (exit 2 but the message is multi-line or huge), ``uncaught`` (an exception
escaped), ``hang`` (no answer within ``--timeout`` seconds) and ``crash`` (the worker process died).

Speed and isolation: inputs run in-process in worker subprocesses (``--jobs``), each checking one
temporary file after another. ``faulthandler.dump_traceback_later(timeout, exit=True)`` is the per-input
watchdog: a hang — even inside C code (protobuf, ONNX shape inference) — kills the worker after
dumping its stack; the parent saves that input and its stack, counts a hang, and restarts the batch at
the next input. Each input is generated from ``(seed, index)`` alone, so a restart loses nothing and
every input can be replayed (``--replay KIND:SEED:INDEX``). The workers run with an address-space
limit, so an input that makes shapecheck allocate without bound shows as an uncaught MemoryError.

Usage::

    python tests/fuzz/fuzz_inputs.py                      # the full run: 100,000 ONNX + 100,000 YAML
    python tests/fuzz/fuzz_inputs.py --onnx 1500 --yaml 1500 --json summary.json

Exit status: 0 when there was no uncaught exception, hang or crash; 1 otherwise (failing inputs are
kept under ``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import hashlib
import io
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mutate  # noqa: E402  (this directory is put on the path just above)

#: Sizes bound to the models' symbolic dims (None: leave them symbolic, the engine works with formulas).
DIM_CHOICES: tuple[int | None, ...] = (None, None, 1, 2, 3, 7, 8, 31, 37, 64, 65, 100, 255, 1001, 4096)
#: Symbols the seed models use.
SYMBOLS: tuple[str, ...] = ("H", "W", "L", "D", "N", "batch")
#: Address-space limit of a worker: an input that needs more is a bug (an unbounded allocation).
WORKER_MEMORY = 4 << 30
#: A load error longer than this is not "a clear one-line message".
MAX_MESSAGE = 2000
#: Share of the YAML inputs that hypothesis generates (the rest are mutations of the YAML seeds).
HYPOTHESIS_SHARE = 0.4


# ==== the worker: check inputs one after another ==========================================================


def _signature(error: BaseException) -> str:
    """Exception type, the innermost shapecheck frame and the message's start: one line per distinct bug."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if f"{os.sep}shapecheck{os.sep}" in f.filename] or frames
    where = f"{os.path.relpath(ours[-1].filename, mutate.REPO)}:{ours[-1].lineno}" if ours else "?"
    message = str(error).splitlines()[0][:100] if str(error) else ""
    return f"{type(error).__name__} at {where}: {message}"


class _Checker:
    """Checks one input file at a time with every rule selected and writes one result line per input."""

    def __init__(self, kind: str, workdir: str, timeout: float, out: io.TextIOBase,
                 ignore: tuple[str, ...] = ()) -> None:
        from shapecheck.check import check_file
        from shapecheck.report.github import render_github
        from shapecheck.report.jsondoc import render_json
        from shapecheck.report.sarif import render_sarif
        from shapecheck.report.text import render_text
        from shapecheck.rules import selected_codes

        self.check_file = check_file
        self.renderers = (render_json, render_text, render_sarif, render_github)
        self.codes = frozenset(selected_codes(["ALL"], list(ignore)))
        self.path = os.path.join(workdir, "input.onnx" if kind == "onnx" else "input.yaml")
        self.workdir = workdir
        self.timeout = timeout
        self.out = out
        self.watchdog = open(os.path.join(workdir, "watchdog.txt"), "w")  # noqa: SIM115  (lives as long as we do)
        self.saved: set[str] = set()

    def run(self, index: int, strategy: str, data: bytes | str, rng: random.Random) -> None:
        payload = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        with open(self.path, "wb") as handle:
            handle.write(payload)
        size = rng.choice(DIM_CHOICES)
        dims = {} if size is None else dict.fromkeys(SYMBOLS, size)
        confirm = rng.random() < 0.5
        detail = ""
        faulthandler.dump_traceback_later(self.timeout, exit=True, file=self.watchdog)
        start = time.perf_counter()
        try:
            report = self.check_file(self.path, dims=dims, codes=self.codes, confirm=confirm)
            for render in self.renderers:
                render([report], io.StringIO(), color=False)
            outcome = _classify(report)
            if outcome == "unclear-error":
                detail = repr(report.error[:200])
            elif outcome == "report-sc901":
                detail = next(f.message for f in report.findings if f.code == "SC901")[:160]
        except (Exception, SystemExit) as error:  # the point of the exercise: nothing may escape check_file
            outcome, detail = "uncaught", _signature(error)
            self._save(detail, payload)
        finally:
            faulthandler.cancel_dump_traceback_later()
        elapsed = time.perf_counter() - start
        detail = detail.replace("\t", " ").replace("\n", " ")
        self.out.write(f"{index}\t{strategy}\t{outcome}\t{elapsed:.5f}\t{detail}\n")
        self.out.flush()

    def _save(self, signature: str, payload: bytes) -> None:
        """Keep the first input of every distinct uncaught exception (and its traceback) for replay."""
        digest = hashlib.sha1(signature.encode()).hexdigest()[:10]
        if digest in self.saved:
            return
        self.saved.add(digest)
        stem = os.path.join(self.workdir, "..", f"uncaught-{digest}")
        with open(stem + os.path.splitext(self.path)[1], "wb") as handle:
            handle.write(payload)
        with open(stem + ".txt", "w", encoding="utf-8") as handle:
            handle.write(signature + "\n\n" + traceback.format_exc())


def _classify(report: Any) -> str:
    if report.error is not None:
        message = report.error
        return "unclear-error" if "\n" in message or len(message) > MAX_MESSAGE or not message.strip() \
            else "load-error"
    if any(f.code == "SC901" for f in report.findings):
        return "report-sc901"
    return "report-1" if any(f.severity.rank >= 3 for f in report.findings) else "report-0"


def input_for(kind: str, seed: int, index: int) -> tuple[str, bytes | str, random.Random]:
    """The input number ``index`` of a seeded ONNX or YAML-mutation batch (and the rng for its options)."""
    rng = random.Random(f"{kind}:{seed}:{index}")
    strategy, data = mutate.onnx_input(rng) if kind == "onnx" else mutate.yaml_input(rng)
    return strategy, data, rng


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    except (ImportError, ValueError, OSError):  # not on this platform: the watchdog still guards hangs
        pass


def worker(task: dict[str, Any]) -> None:
    """Run one batch: ``kind`` (onnx, yaml, hypothesis), ``seed``, ``start``, ``count``, ``dir``."""
    _limit_memory()
    kind, seed, start, count = task["kind"], task["seed"], task["start"], task["count"]
    checker = _Checker("onnx" if kind == "onnx" else "yaml", task["dir"], task["timeout"], sys.stdout,
                       tuple(task.get("ignore", ())))
    if kind != "hypothesis":
        for index in range(start, start + count):
            try:
                strategy, data, rng = input_for(kind, seed, index)
            except Exception as error:  # a bug in the fuzzer itself: say so, never blame shapecheck
                sys.stdout.write(f"{index}\t?\tfuzzer-error\t0\t{_signature(error)}\n")
                continue
            checker.run(index, strategy, data, rng)
        return
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    counter = iter(range(start, start + count))
    rng = random.Random(f"hypothesis-options:{seed}:{start}")

    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @hypothesis_seed(seed * 1_000_003 + start)
    @given(mutate.yaml_documents())
    def generated(text: str) -> None:
        index = next(counter, None)
        if index is not None:
            checker.run(index, "hypothesis", text, rng)

    generated()


# ==== the parent: batches, restarts, counts ==============================================================


@dataclass
class Summary:
    """Counts by kind, strategy and outcome; the distinct failures; timings."""

    counts: dict[str, dict[str, Counter[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Counter)))
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    internal: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    unclear: Counter[str] = field(default_factory=Counter)
    slowest: list[tuple[float, str]] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, strategy: str, outcome: str, elapsed: float, detail: str, where: str) -> None:
        group = "yaml" if kind in ("yaml", "hypothesis") else "onnx"
        with self.lock:
            self.counts[group][strategy][outcome] += 1
            if outcome in ("uncaught", "hang", "crash", "fuzzer-error"):
                self.failures[f"{outcome}: {detail}"].append(where)
            elif outcome == "report-sc901":
                self.internal[detail] += 1
                self.examples.setdefault(detail, where)
            elif outcome == "unclear-error":
                self.unclear[detail] += 1
            self.slowest.append((elapsed, where))
            if len(self.slowest) > 64:
                self.slowest = sorted(self.slowest, reverse=True)[:8]

    def total(self, group: str, outcome: str | None = None) -> int:
        return sum(c[outcome] if outcome else sum(c.values()) for c in self.counts[group].values())

    @property
    def failed(self) -> int:
        return sum(len(v) for v in self.failures.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "inputs": {group: self.total(group) for group in ("onnx", "yaml")},
            "outcomes": {group: dict(sorted(sum(self.counts[group].values(), Counter()).items()))
                         for group in ("onnx", "yaml")},
            "by_strategy": {group: {s: dict(sorted(c.items())) for s, c in sorted(self.counts[group].items())}
                            for group in ("onnx", "yaml")},
            "failures": {k: v[:5] for k, v in sorted(self.failures.items())},
            "failed": self.failed,
            "sc901": {text: [count, self.examples.get(text)] for text, count in self.internal.most_common(20)},
            "unclear_errors": dict(self.unclear.most_common(20)),
            "slowest": [[round(s, 3), w] for s, w in sorted(self.slowest, reverse=True)[:5]],
            "seconds": round(self.seconds, 1),
        }


def _run_task(task: dict[str, Any], summary: Summary, out_dir: str) -> None:
    """Run a batch in a worker; when the worker dies (hang or crash), record the input and go on."""
    task = dict(task)
    workdir = tempfile.mkdtemp(prefix="worker-", dir=out_dir)
    while task["count"] > 0:
        task["dir"] = workdir
        watchdog = os.path.join(workdir, "watchdog.txt")
        with open(os.path.join(workdir, "stderr.txt"), "wb") as stderr:
            process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(task)],
                                       stdout=subprocess.PIPE, stderr=stderr, text=True)
            done, last = 0, task["start"] - 1
            assert process.stdout is not None
            for line in process.stdout:
                index, strategy, outcome, elapsed, detail = line.rstrip("\n").split("\t", 4)
                last, done = int(index), done + 1
                summary.add(task["kind"], strategy, outcome, float(elapsed), detail,
                            f"{task['kind']}:{task['seed']}:{index}")
            code = process.wait()
        if code == 0 or done >= task["count"]:
            if task["kind"] == "hypothesis" and done < task["count"]:  # hypothesis ran out of examples
                task = {**task, "seed": task["seed"] + 7919, "start": last + 1, "count": task["count"] - done}
                continue
            break
        index = last + 1
        hung = False
        if os.path.exists(watchdog):
            with open(watchdog, encoding="utf-8", errors="replace") as handle:
                hung = "Timeout" in handle.read()
        outcome = "hang" if hung else "crash"
        if hung:
            detail = f"no answer within {task['timeout']} s{_hang_site(watchdog)}"
        else:
            with open(os.path.join(workdir, "stderr.txt"), encoding="utf-8", errors="replace") as handle:
                tail = handle.read().strip().splitlines()[-1:] or [""]
            detail = f"worker exit {code} {tail[0][:120]}"
        where = f"{task['kind']}:{task['seed']}:{index}"
        suffix = ".onnx" if task["kind"] == "onnx" else ".yaml"
        kept = os.path.join(out_dir, f"{outcome}-{task['kind']}-{task['seed']}-{index}")
        for name, target in (("input" + suffix, kept + suffix), ("watchdog.txt", kept + ".txt")):
            with contextlib.suppress(OSError):
                shutil.copyfile(os.path.join(workdir, name), target)
        summary.add(task["kind"], "?", outcome, float(task["timeout"]), f"{detail} ({kept}{suffix})", where)
        remaining = task["count"] - done - 1
        task = {**task, "start": index + 1, "count": remaining}
        if task["kind"] == "hypothesis":
            task["seed"] += 104729  # the generated sequence cannot be resumed: go on with another seed
    shutil.rmtree(workdir, ignore_errors=True)


def _hang_site(watchdog: str) -> str:
    """Where a hung input was when the watchdog fired: the rule that ran, and the size search if it is on
    the stack, else the innermost shapecheck module (`` (in rules/sizes.py:valid_input_sizes →
    sizes/_analysis.py)``), so that hangs group by cause in the summary."""
    import re

    with open(watchdog, encoding="utf-8", errors="replace") as handle:
        frames = re.findall(r'File "([^"]+)", line \d+ in (\S+)', handle.read())
    ours = [(os.path.relpath(f, os.path.join(mutate.REPO, "shapecheck")), fn) for f, fn in frames
            if f"{os.sep}shapecheck{os.sep}" in f]
    if not ours:
        return ""
    rule = next((f"{f}:{fn}" for f, fn in ours if f.startswith("rules")), None)
    where = next((f for f, _ in ours if f.startswith("sizes")), ours[0][0])  # the size search, if on the stack
    return f" (in {rule} → {where})" if rule else f" (in {where})"


def _batches(onnx_count: int, yaml_count: int, seed: int, size: int, timeout: float,
             ignore: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    hypothesis_count = round(yaml_count * HYPOTHESIS_SHARE)
    plan = [("onnx", onnx_count), ("yaml", yaml_count - hypothesis_count), ("hypothesis", hypothesis_count)]
    batches = []
    for kind, total in plan:
        for start in range(0, total, size):
            batches.append({"kind": kind, "seed": seed, "start": start, "count": min(size, total - start),
                            "timeout": timeout, "ignore": list(ignore)})
    # Interleave the kinds, so that a short run still exercises all of them and workers stay balanced.
    return sorted(batches, key=lambda b: (b["start"], b["kind"]))


def run(onnx_count: int, yaml_count: int, *, jobs: int = 2, seed: int = 0, batch: int = 2000,
        timeout: float = 5.0, out_dir: str | None = None, progress: bool = False,
        ignore: tuple[str, ...] = ()) -> tuple[Summary, str]:
    """Fuzz and return the summary and the directory where failing inputs were kept."""
    out_dir = out_dir or tempfile.mkdtemp(prefix="shapecheck-fuzz-")
    os.makedirs(out_dir, exist_ok=True)
    summary = Summary()
    tasks: queue.Queue[dict[str, Any]] = queue.Queue()
    for task in _batches(onnx_count, yaml_count, seed, batch, timeout, ignore):
        tasks.put(task)
    started = time.perf_counter()

    def drain() -> None:
        while True:
            try:
                task = tasks.get_nowait()
            except queue.Empty:
                return
            _run_task(task, summary, out_dir)

    threads = [threading.Thread(target=drain, daemon=True) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(timeout=10)
        if progress:
            elapsed = time.perf_counter() - started
            print(f"  {elapsed:6.0f} s  onnx {summary.total('onnx'):>7}  yaml {summary.total('yaml'):>7}  "
                  f"failed {summary.failed}", file=sys.stderr, flush=True)
    summary.seconds = time.perf_counter() - started
    return summary, out_dir


def print_summary(summary: Summary, out_dir: str) -> None:
    data = summary.as_dict()
    outcomes = ("report-0", "report-1", "report-sc901", "load-error", "unclear-error", "uncaught", "hang", "crash",
                "fuzzer-error")
    print(f"{'kind / strategy':24}" + "".join(f"{o:>14}" for o in outcomes) + f"{'total':>10}")
    for group in ("onnx", "yaml"):
        rows = [(f"{group}", sum(summary.counts[group].values(), Counter()))]
        rows += [(f"  {s}", c) for s, c in sorted(summary.counts[group].items())]
        for label, counts in rows:
            print(f"{label:24}" + "".join(f"{counts[o]:>14}" for o in outcomes) + f"{sum(counts.values()):>10}")
    print(f"\n{data['inputs']['onnx'] + data['inputs']['yaml']} inputs in {data['seconds']} s; "
          f"slowest: {', '.join(f'{s} s ({w})' for s, w in data['slowest'][:3])}")
    for label, table in (("SC901 (caught internal errors)", data["sc901"]), ("unclear load errors",
                                                                           data["unclear_errors"])):
        if table:
            print(f"\n{label}:")
            for text, count in table.items():
                count, where = count if isinstance(count, list) else (count, None)
                print(f"  {count:6}  {text}" + (f"  e.g. {where}" if where else ""))
    if summary.failures:
        print(f"\nFAILURES ({summary.failed}; inputs kept in {out_dir}):")
        for text, where in sorted(summary.failures.items()):
            print(f"  {len(where):6}  {text}  e.g. {where[0]}")
    else:
        print("\n0 uncaught exceptions, 0 hangs, 0 crashes")


def replay(spec: str, timeout: float) -> None:
    """``KIND:SEED:INDEX`` (onnx or yaml): regenerate that input, write it to the working directory,
    and check it here with the traceback visible."""
    kind, seed, index = spec.split(":")
    strategy, data, rng = input_for(kind, int(seed), int(index))
    path = f"replay-{kind}-{seed}-{index}.{'onnx' if kind == 'onnx' else 'yaml'}"
    with open(path, "wb") as handle:
        handle.write(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    size = rng.choice(DIM_CHOICES)
    confirm = rng.random() < 0.5
    print(f"{strategy} input written to {path}; dims={size} confirm={confirm}")
    from shapecheck.check import check_file
    from shapecheck.rules import selected_codes

    faulthandler.dump_traceback_later(timeout, exit=True)
    report = check_file(path, dims={} if size is None else dict.fromkeys(SYMBOLS, size),
                        codes=frozenset(selected_codes(["ALL"])), confirm=confirm)
    print(report.error or "\n".join(f"{f.code} {f.node}: {f.message}" for f in report.findings))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onnx", type=int, default=100_000, help="ONNX inputs (default 100,000)")
    parser.add_argument("--yaml", type=int, default=100_000, help="YAML inputs (default 100,000)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--seed", type=int, default=0, help="run seed (inputs are a function of seed and index)")
    parser.add_argument("--batch", type=int, default=2000, help="inputs per worker process")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before an input counts as a hang")
    parser.add_argument("--out", help="directory for failing inputs (default: a new temporary directory)")
    parser.add_argument("--json", metavar="FILE", help="also write the summary as JSON to FILE")
    parser.add_argument("--ignore", default="", metavar="CODES",
                        help="comma-separated rule code prefixes not to run (default: every rule runs)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--replay", metavar="KIND:SEED:INDEX", help="regenerate and check one input, here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    if args.replay:
        replay(args.replay, args.timeout)
        return 0
    summary, out_dir = run(args.onnx, args.yaml, jobs=args.jobs, seed=args.seed, batch=args.batch,
                           timeout=args.timeout, out_dir=args.out, progress=not args.quiet,
                           ignore=tuple(c.strip() for c in args.ignore.split(",") if c.strip()))
    print_summary(summary, out_dir)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(summary.as_dict(), handle, indent=2)
    if not summary.failed and not args.out:
        shutil.rmtree(out_dir, ignore_errors=True)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
