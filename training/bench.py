"""``govreport bench``: speed, memory and scale, each beside its baseline in the same run.

- text: in-process extraction on one core (reports/s, p50/p99, peak RSS) against a
  bare ``jieba.lcut`` pass over the same texts, the floor of any jieba-based pipeline;
- pdf: our time per PDF against pdfplumber's own ``extract_text`` of the same file;
- http: ``POST /v1/extract`` at 1, 4 and 16 concurrent clients against a real
  ``govreport serve`` on loopback (one worker), against the in-process rate over the
  same requests measured just before each level;
- start-up: time from launching the server to its first answer (and on the first start
  after installing, when jieba's dictionary cache is built), and its RSS.
"""

from __future__ import annotations

import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def bench_texts(limit: int | None = None) -> list[str]:
    """The corpus reports with tables plus augmented variants of them."""
    from training.corpus import load_corpus
    from training.evaluate import augmented_variants

    reports = [r for r in load_corpus(ROOT / "corpus") if "tables" in r.gold]
    texts = [r.text for r in reports]
    for r in reports:
        # (the heading and table-layout variants the benchmark has always timed; the
        # shapes without line breaks and the tools' texts came later and would change
        # what is compared)
        texts += [v.text for v in augmented_variants(r, seed=1)
                  if not any(tag.startswith(("shape:", "tool:")) for tag in v.tags)]
    random.Random(0).shuffle(texts)
    return texts[:limit] if limit else texts


def _timed(fn: Callable[[str], object], items: list, rounds: int) -> list[float]:
    latencies = []
    for _ in range(rounds):
        for item in items:
            t0 = time.perf_counter()
            fn(item)
            latencies.append(time.perf_counter() - t0)
    return latencies


def bench_text(texts: list[str], rounds: int = 3) -> dict:
    import jieba

    from service.pipeline import extract, get_models

    models = get_models()
    jieba.initialize()
    for t in texts[:5]:  # warm caches (the dictionary groups jieba needs, feature caches)
        extract(t, models=models)
        jieba.lcut(t)
    # Interleaved, text by text: this machine's speed drifts (shared cores), and
    # timing one side after the other would put the drift into the ratio.
    ours, floor = [], []
    for _ in range(rounds):
        for t in texts:
            t0 = time.perf_counter()
            extract(t, models=models)
            t1 = time.perf_counter()
            jieba.lcut(t)
            floor.append(time.perf_counter() - t1)
            ours.append(t1 - t0)
    # Where the time goes, per stage (one more warm pass, outside the timings above).
    from service import ingest
    from service.pipeline import StageClock, extract_document

    clock = StageClock()
    for t in texts:
        clock.start()
        doc = ingest.read(t)
        clock.lap("ingest")
        extraction = extract_document(doc, models, clock)
        clock.start()
        extraction.model_dump()
        clock.lap("json")
    stages_ms = {stage: round(s / len(texts) * 1000, 2) for stage, s in clock.seconds.items()}
    chars = statistics.mean(len(t) for t in texts)
    return {
        "stages_ms": stages_ms,
        "reports": len(texts), "rounds": rounds, "mean_chars": round(chars),
        "reports_per_s": round(len(ours) / sum(ours), 1),
        "p50_ms": round(_percentile(ours, 0.5) * 1000, 2),
        "p99_ms": round(_percentile(ours, 0.99) * 1000, 2),
        "jieba_lcut_reports_per_s": round(len(floor) / sum(floor), 1),
        "jieba_lcut_p50_ms": round(_percentile(floor, 0.5) * 1000, 2),
        # The target: extraction costs at most half a bare jieba pass.
        "cost_vs_jieba": round(sum(ours) / sum(floor), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def bench_pdf(rounds: int = 3) -> dict:
    import pdfplumber

    from service.pipeline import extract, get_models

    pdfs = sorted((ROOT / "tests" / "fixtures").glob("*.pdf"))
    datas = []
    for p in pdfs:
        data = p.read_bytes()
        try:
            extract(data, filename=p.name, models=get_models())
        except Exception:  # encrypted / scanned / truncated fixtures are not reports to time
            continue
        datas.append((p.name, data))
    if not datas:
        return {"skipped": "no readable PDF fixtures in tests/fixtures"}

    def floor(item):
        import io

        with pdfplumber.open(io.BytesIO(item[1])) as pdf:
            return [page.extract_text() for page in pdf.pages]

    ours, base = [], []
    for _ in range(rounds):  # interleaved file by file, as for text
        for item in datas:
            ours += _timed(lambda it: extract(it[1], filename=it[0], models=get_models()), [item], 1)
            base += _timed(floor, [item], 1)
    return {"files": [n for n, _ in datas], "ours_ms": round(statistics.mean(ours) * 1000, 1),
            "pdfplumber_extract_text_ms": round(statistics.mean(base) * 1000, 1),
            "ratio": round(sum(ours) / sum(base), 3)}


def bench_ocr(rounds: int = 1, dpi: int = 200, limit: int | None = None) -> dict:
    """OCR cost: each PDF fixture scanned (``training.scans``: rendered at ``dpi``,
    turned, blurred, JPEG) and read as an image-only PDF, beside pdfplumber's own text
    extraction and our full extraction of the text-layer file.  Seconds per page and per
    report on one core (one OCR thread, as each extraction process runs), and the peak
    memory of a process that reads them."""
    import io
    import resource

    import numpy as np
    import pdfplumber
    import pypdfium2

    from service.ingest import ocr
    from service.pipeline import extract, get_models
    from training.scans import render_variant

    pdfs = sorted((ROOT / "tests" / "fixtures").glob("*.pdf"))[:limit]
    if not pdfs:
        return {"skipped": "no PDF fixtures in tests/fixtures"}
    ocr.engine()  # loaded once per process, as in a server's extraction process
    models = get_models()
    scans = [(p.name, p.read_bytes(), render_variant(p.read_bytes(), p.stem, dpi).pdf) for p in pdfs]
    pages = sum(len(pypdfium2.PdfDocument(text)) for _, text, _ in scans)
    ocr.engine().detect(np.full((64, 64, 3), 255, dtype=np.uint8))  # the ONNX sessions' first run
    ocr_s, ours_text_s, plumber_s = [], [], []
    for _ in range(rounds):
        for _, text, scanned in scans:
            ocr_s += _timed(lambda data: extract(data, models=models), [scanned], 1)
            ours_text_s += _timed(lambda data: extract(data, models=models), [text], 1)

            def plumber(data: bytes) -> list:
                with pdfplumber.open(io.BytesIO(data)) as pdf:
                    return [page.extract_text() for page in pdf.pages]

            plumber_s += _timed(plumber, [text], 1)
    per_report = statistics.mean(ocr_s)
    return {"files": [name for name, _, _ in scans], "dpi": dpi, "pages": pages, "rounds": rounds,
            "ocr_s_per_report": round(per_report, 2),
            "ocr_s_per_page": round(sum(ocr_s) / (pages * rounds), 2),
            "text_layer_ms_per_report": round(statistics.mean(ours_text_s) * 1000, 1),
            "pdfplumber_extract_text_ms_per_report": round(statistics.mean(plumber_s) * 1000, 1),
            "ocr_vs_pdfplumber": round(sum(ocr_s) / sum(plumber_s), 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return round(total, 1)


def _children(pid: int) -> list[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in out]


def _load(url: str, texts: list[str], clients: int) -> tuple[list[float], int]:
    """POST every text once from ``clients`` concurrent clients; latencies and error count."""
    import httpx

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def worker(chunk: list[str]) -> None:
        nonlocal errors
        with httpx.Client(timeout=60) as client:
            for text in chunk:
                t = time.perf_counter()
                r = client.post(f"{url}/v1/extract", json={"text": text})
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    errors += r.status_code != 200

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, [texts[i::clients] for i in range(clients)]))
    return latencies, errors


def _start_server(text: str, env: dict | None = None) -> tuple[subprocess.Popen, str, float | None]:
    """``govreport serve`` (one worker) on a free port: the process, its URL and the
    seconds from launch to its first answer to ``text`` (None if none within 60 s)."""
    import httpx

    port = _free_port()
    t0 = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port),
                               "--workers", "1"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=30) as client:
            while time.perf_counter() - t0 < 60:
                if server.poll() is not None:
                    raise RuntimeError("server exited: " + server.stderr.read().decode()[-500:])
                try:
                    r = client.post(f"{url}/v1/extract", json={"text": text})
                    if r.status_code == 200:
                        return server, url, time.perf_counter() - t0
                except httpx.TransportError:
                    time.sleep(0.05)
    except BaseException:
        _stop(server)
        raise
    return server, url, None


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()


def bench_first_start(text: str) -> float | None:
    """Start-up to first answer with an empty cache, as on the first start after
    installing: jieba's dictionary is read whole once to write its grouped copy."""
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        server, _, startup = _start_server(text, dict(os.environ, GOVREPORT_CACHE_DIR=cache))
        _stop(server)
    return round(startup, 2) if startup else None


def bench_http(texts: list[str], concurrencies=(1, 4, 16), requests_per_level: int = 200) -> dict:
    server, url, startup = _start_server(texts[0])
    try:
        result: dict = {"startup_to_first_answer_s": round(startup, 2) if startup else None,
                        "levels": {}}
        from service.pipeline import extract, get_models

        models = get_models()
        jobs = [texts[i % len(texts)] for i in range(requests_per_level)]
        for conc in concurrencies:
            # The same requests in-process just before, on the same machine state
            # (its speed drifts): the rate one worker is compared with.
            start = time.perf_counter()
            for text in jobs:
                extract(text, models=models)
            in_process = len(jobs) / (time.perf_counter() - start)
            start = time.perf_counter()
            latencies, errors = _load(url, jobs, conc)
            wall = time.perf_counter() - start
            level = {"requests": len(latencies), "errors": errors,
                     "requests_per_s": round(len(latencies) / wall, 1),
                     "p50_ms": round(_percentile(latencies, 0.5) * 1000, 2),
                     "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
                     "in_process_per_s": round(in_process, 1),
                     "vs_in_process": round(len(latencies) / wall / in_process, 3)}
            result["levels"][str(conc)] = level
        result["server_rss_mb"] = _rss_mb(server.pid)
    finally:
        _stop(server)
    result["jieba_load_floor_s"] = bench_startup_floor()
    result["first_start_s"] = bench_first_start(texts[0])
    return result


def bench_startup_floor() -> float:
    """Seconds for a bare Python to import jieba and load its dictionary as jieba does
    (whole): the start-up of the plainest jieba-based service.  govreport reads the
    dictionary only as far as the text needs it (``service.jieba_words``), so it can
    start faster than this."""
    code = "import logging, jieba; jieba.setLogLevel(logging.WARNING); jieba.initialize()"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return round(time.perf_counter() - t0, 2)


def bench_jobs(texts: list[str], tmp: Path, files: int = 600) -> dict:
    """``govreport extract --jobs N`` over many files: does throughput scale with cores?

    Throughput is read from when the result lines arrive, from the tenth of the files
    on: start-up (paid once per run whatever the number of files) and pool warm-up stay
    out of it, without subtracting a separately timed start-up that drifts from run
    to run.
    """
    paths = []
    for i in range(files):
        p = tmp / f"r{i:04d}.txt"
        p.write_text(texts[i % len(texts)], encoding="utf-8")
        paths.append(str(p))

    def run(jobs: int) -> tuple[float, float | None]:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", "extract", "--jobs", str(jobs),
                                 *paths], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        arrivals = [time.perf_counter() for _ in proc.stdout]  # one line per file
        proc.wait()
        wall = time.perf_counter() - t0
        first = len(arrivals) // 10
        if len(arrivals) < 20 or arrivals[-1] <= arrivals[first]:
            return wall, None  # too few files to tell a rate
        return wall, (len(arrivals) - 1 - first) / (arrivals[-1] - arrivals[first])

    out: dict = {"files": len(paths), "cores": os.cpu_count()}
    for jobs in sorted({1, os.cpu_count() or 1}):
        wall, rate = run(jobs)
        out[f"jobs_{jobs}_wall_s"] = round(wall, 2)
        out[f"jobs_{jobs}_reports_per_s"] = round(rate, 1) if rate else None
    rates = [out[k] for k in out if k.endswith("_reports_per_s")]
    out["speed_up"] = round(rates[-1] / rates[0], 2) if all(rates) else None
    return out

def bench_batch(texts: list[str], tmp: Path, files: int = 600, rounds: int = 3) -> dict:
    """``govreport batch`` into a new DuckDB archive over the files of ``bench_jobs``,
    1 job and one per core, ``rounds`` times each, alternating: reports stored per
    second, read (as there) from the tenth stored file on, so that start-up and pool
    warm-up stay out of it; the median of the rounds (this machine's other load moves
    a single run by ±10 %), every round beside it, and how many reports a transaction
    held on average (1.0: every report in one of its own)."""
    from service import batch

    folder = tmp / "batch"
    folder.mkdir(exist_ok=True)
    for i in range(files):
        # distinct files (an archive stores a report once): the text and its number
        (folder / f"r{i:04d}.txt").write_text(texts[i % len(texts)] + f"\n{i}\n", encoding="utf-8")
    out: dict = {"files": files, "cores": os.cpu_count(), "rounds": rounds}
    levels = sorted({1, os.cpu_count() or 1})
    runs: dict[int, list[float]] = {jobs: [] for jobs in levels}
    per_transaction: dict[int, list[float]] = {jobs: [] for jobs in levels}
    for r in range(rounds):
        for jobs in levels:
            arrivals: list[float] = []
            t0 = time.perf_counter()
            summary = batch.run([folder], tmp / f"bench_{jobs}_{r}.duckdb", jobs=jobs,
                                on_file=lambda summary, total, arrived=arrivals: arrived.append(time.perf_counter()))
            out[f"jobs_{jobs}_wall_s"] = round(time.perf_counter() - t0, 2)
            first = len(arrivals) // 10
            if len(arrivals) >= 20:
                runs[jobs].append((len(arrivals) - 1 - first) / (arrivals[-1] - arrivals[first]))
            per_transaction[jobs].append(summary.stored / max(summary.transactions, 1))
    for jobs in levels:
        rates = sorted(runs[jobs])
        out[f"jobs_{jobs}_reports_per_s"] = round(rates[len(rates) // 2], 1) if rates else None
        out[f"jobs_{jobs}_rounds"] = [round(v, 1) for v in runs[jobs]]
        out[f"jobs_{jobs}_reports_per_transaction"] = round(sum(per_transaction[jobs]) / rounds, 2)
    rates = [out[f"jobs_{jobs}_reports_per_s"] for jobs in levels]
    out["speed_up"] = round(rates[-1] / rates[0], 2) if all(rates) else None
    return out


def run(out_path: Path, quick: bool = False, step: Callable[[str], None] = lambda m: None) -> dict:
    import tempfile

    texts = bench_texts()
    step(f"text: {len(texts)} reports in-process")
    results: dict = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]}}
    results["text"] = bench_text(texts, rounds=1 if quick else 3)
    step("pdf")
    results["pdf"] = bench_pdf(rounds=1 if quick else 3)
    step("ocr (scanned renders of the PDF fixtures)")
    results["ocr"] = bench_ocr(rounds=1)
    step("http")
    results["http"] = bench_http(texts, requests_per_level=50 if quick else 200)
    step("extract --jobs")
    with tempfile.TemporaryDirectory() as tmp:
        results["extract_jobs"] = bench_jobs(texts, Path(tmp), files=200 if quick else 600)
        step("batch into DuckDB")
        results["batch_jobs"] = bench_batch(texts, Path(tmp), files=200 if quick else 600,
                                             rounds=1 if quick else 3)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results


def render(results: dict, console) -> None:
    from rich.table import Table

    t = results["text"]
    table = Table(title="govreport bench")
    table.add_column("measure")
    table.add_column("ours", justify="right")
    table.add_column("baseline", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target", justify="right")
    table.add_row(f"text, reports/s on one core ({t['reports']} reports × {t['rounds']})",
                  str(t["reports_per_s"]), f"{t['jieba_lcut_reports_per_s']} (jieba.lcut)",
                  f"{t['cost_vs_jieba']} × cost", "≤ 0.5 × cost")
    table.add_row("text p50 / p99 latency, ms", f"{t['p50_ms']} / {t['p99_ms']}",
                  f"{t['jieba_lcut_p50_ms']} (jieba p50)", "", "")
    table.add_row("  per stage, ms per report", " ".join(f"{k} {v}" for k, v in t["stages_ms"].items()),
                  "", "", "")
    table.add_row("peak RSS in-process, MB", str(t["peak_rss_mb"]), "", "", "≤ 400")
    p = results["pdf"]
    if "ratio" in p:
        table.add_row(f"PDF ms per report ({len(p['files'])} files)", str(p["ours_ms"]),
                      f"{p['pdfplumber_extract_text_ms']} (pdfplumber text)", f"{p['ratio']} ×",
                      "≤ 1.3 ×")
    o = results.get("ocr") or {}
    if "ocr_s_per_page" in o:
        table.add_row(f"OCR s per page / per report ({o['pages']} pages at {o['dpi']} dpi, one core)",
                      f"{o['ocr_s_per_page']} / {o['ocr_s_per_report']}",
                      f"{o['pdfplumber_extract_text_ms_per_report']} ms (pdfplumber, text layer); "
                      f"ours {o['text_layer_ms_per_report']} ms", f"{o['ocr_vs_pdfplumber']} ×",
                      "≤ 4 s a page")
        table.add_row("  peak RSS while reading scans, MB", str(o["peak_rss_mb"]), "", "", "≤ 1000")
    h = results["http"]
    for conc, level in h["levels"].items():
        table.add_row(f"HTTP {conc} clients: req/s, p50/p99 ms, errors",
                      f"{level['requests_per_s']}, {level['p50_ms']}/{level['p99_ms']}, {level['errors']}",
                      f"{level['in_process_per_s']} (in-process)", f"{level['vs_in_process']}",
                      "≥ 0.8 at 4" if conc == "4" else "")
    table.add_row("service start-up to first answer, s", str(h["startup_to_first_answer_s"]),
                  f"{h.get('jieba_load_floor_s', '')} (python + jieba loading its whole dictionary)", "", "≤ 2")
    table.add_row("  the first start after installing (builds the jieba cache), s",
                  str(h["first_start_s"]), "", "", "")
    table.add_row("service RSS, MB", str(h["server_rss_mb"]), "", "", "≤ 400")
    for name, what in (("extract_jobs", "extract --jobs to JSON Lines"), ("batch_jobs", "batch --jobs into DuckDB")):
        j = results.get(name)
        if not j:
            continue
        keys = [k for k in j if k.endswith("_reports_per_s")]
        rounds = f", median of {j['rounds']} rounds" if j.get("rounds", 1) > 1 else ""
        table.add_row(f"{what} over {j['files']} files, reports/s after start-up{rounds}",
                      " / ".join(f"{k[5:].split('_')[0]} jobs: {j[k]}" for k in keys), "1 job",
                      f"{j['speed_up']} ×", f"→ {j['cores']} × on {j['cores']} cores")
        if "jobs_1_reports_per_transaction" in j:
            table.add_row("  reports per DuckDB transaction",
                          " / ".join(f"{k[5:].split('_')[0]} jobs: {j[k]}" for k in j
                                     if k.endswith("_reports_per_transaction")), "", "", "")
    console.print(table)
