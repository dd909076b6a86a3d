"""Hostile documents, and a probe of a live server with them.

``inputs()`` makes the small crafted files that once took the machine down (each a
few kilobytes to a few megabytes), with real reports among them.  ``python -m
training.hostile`` starts ``govreport serve --workers 2`` with a 10 s time limit,
sends each input from several clients, and reports per input the status, the time
to answer and the server's memory (every process of it), then whether a real PDF
is still answered and whether the memory came back down::

    python -m training.hostile [--timeout 10] [--workers 2] [--clients 8] [--seconds 60]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import socket
import struct
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "000_62418b5d58b13a7d.txt"
PDF = ROOT / "tests" / "fixtures" / "000_62418b5d58b13a7d.pdf"


# --- the inputs ----------------------------------------------------------------------------

def html_spans(rows: int = 200) -> bytes:
    """Every row one cell with ``rowspan=200 colspan=200``: billions of grid positions."""
    cells = "".join(f'<tr><td rowspan="200" colspan="200">{i}</td></tr>' for i in range(rows))
    return f"<html><body><table>{cells}</table></body></html>".encode()


def html_nested(depth: int = 300) -> bytes:
    return ("<html><body>" + "<div>" * depth + "一、总体情况 本机关全年公开信息 12 条。" + "</div>" * depth
            + "</body></html>").encode()


def _docx(build) -> bytes:
    import docx

    document = docx.Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_grid_span(span: int = 1_000_000) -> bytes:
    from docx.oxml.ns import qn
    from docx.oxml.parser import OxmlElement

    def build(document):
        table = document.add_table(rows=2, cols=3)
        for c, text in enumerate(["规章", "1", "2"]):
            table.cell(1, c).text = text
        tc_pr = table.cell(0, 0)._tc.get_or_add_tcPr()
        element = OxmlElement("w:gridSpan")
        element.set(qn("w:val"), str(span))
        tc_pr.append(element)
        table.cell(0, 0).text = "申请人情况"

    return _docx(build)


def docx_nested(depth: int = 40) -> bytes:
    def build(document):
        cell = document.add_table(rows=1, cols=1).cell(0, 0)
        for level in range(depth):
            cell.text = f"第{level}层"
            cell = cell.add_table(rows=1, cols=1).cell(0, 0)
        cell.text = "最里层"

    return _docx(build)


def docx_lying_zip(real_size: int = 1024 * 1024 * 1024) -> bytes:
    """A DOCX whose document.xml inflates to ``real_size`` bytes while its headers say 1000."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"0" * (1 << 20)
            member.write(b"<a>")
            for _ in range(real_size >> 20):
                member.write(block)
            member.write(b"</a>")
    data = bytearray(buf.getvalue())
    for signature, size_at, name_len_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        i = data.find(signature)
        while i >= 0:
            name_len = struct.unpack_from("<H", data, i + name_len_at)[0]
            if b"document" in data[i + name_at:i + name_at + name_len]:
                struct.pack_into("<I", data, i + size_at, 1000)
            i = data.find(signature, i + 4)
    return bytes(data)


def docx_paragraphs(megabytes: int = 290) -> bytes:
    """A DOCX of tiny paragraphs that inflates to ``megabytes`` (headers honest)."""
    paragraph = b"<w:p><w:r><w:t>1</w:t></w:r></w:p>"
    body = paragraph * (megabytes * 1024 * 1024 // len(paragraph))
    document = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                b"<w:body>" + body + b"</w:body></w:document>")
    template = io.BytesIO()
    import docx

    docx.Document().save(template)
    out = io.BytesIO()
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, document if info.filename == "word/document.xml" else src.read(info))
    return out.getvalue()


def nul_row() -> bytes:
    text = SEED.read_text(encoding="utf-8")
    row = text.index("行政许可")
    return (text[:row] + text[row:].replace("\t", "\t\x00" * 10, 1)).encode()


def inputs() -> dict[str, tuple[bytes, str, set[int]]]:
    """name -> (file, file name, acceptable statuses)."""
    spans = html_spans()
    return {
        "html rowspan=200 colspan=200, 200 rows": (spans, "t.html", {422}),
        "html rowspan=200 colspan=200, 400 rows": (html_spans(400), "t.html", {422}),
        "json text of the rowspan page": (json.dumps({"text": spans.decode()}).encode(), "json", {422}),
        "html nested 300 deep": (html_nested(), "t.html", {422}),
        "docx gridSpan=1000000": (docx_grid_span(), "t.docx", {200, 422}),
        "docx tables nested 22 deep": (docx_nested(22), "t.docx", {422}),
        "docx tables nested 40 deep": (docx_nested(40), "t.docx", {422}),
        "docx zip bomb, sizes understated": (docx_lying_zip(), "t.docx", {422}),
        "docx 290 MB of tiny paragraphs": (docx_paragraphs(), "t.docx", {422}),
        "10 NUL bytes in a table row": (nul_row(), "t.txt", {200}),
        "utf-16 without BOM": (SEED.read_text(encoding="utf-8").encode("utf-16-le"), "t.txt", {200}),
        "a real PDF": (PDF.read_bytes(), "r.pdf", {200}),
    }


# --- the probe -----------------------------------------------------------------------------

def _process_tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            continue
    return found


def _usage(pid: int) -> tuple[float, float]:
    """(resident memory in MB, CPU seconds used so far) of a process and all its
    descendants."""
    rss = cpu = 0.0
    page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    for p in _process_tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                rss += int(f.read().split()[1]) * page / 2**20
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return rss, cpu


def _server_rss_mb(pid: int) -> float:
    return _usage(pid)[0]


@contextlib.contextmanager
def serving(args: list[str], env: dict[str, str] | None = None, log: Path | None = None):
    """``govreport serve ARGS`` on a free port until the context ends; yields (address,
    process).  Its log goes to ``log`` when given."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port), *args],
                            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=log.open("wb") if log else subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError("the server exited" + (": " + log.read_text()[-2000:] if log else ""))
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _post(base: str, data: bytes, name: str, timeout: float = 120):
    import httpx

    if name == "json":
        return httpx.post(f"{base}/v1/extract", content=data, headers={"content-type": "application/json"},
                          timeout=timeout)
    return httpx.post(f"{base}/v1/extract", files={"file": (name, data)}, timeout=timeout)


def probe(timeout_s: float = 10, workers: int = 2, clients: int = 8, seconds: float = 60) -> dict:
    report: dict = {"timeout_s": timeout_s, "workers": workers, "inputs": []}
    with serving(["--workers", str(workers)], {"GOVREPORT_TIMEOUT_S": str(timeout_s)}) as (base, server):
        cases = inputs()
        peak = _server_rss_mb(server.pid)
        report["rss_at_start_mb"] = round(peak, 1)
        for name, (data, filename, ok) in cases.items():
            start = time.perf_counter()
            response = _post(base, data, filename)
            took = time.perf_counter() - start
            rss = _server_rss_mb(server.pid)
            peak = max(peak, rss)
            report["inputs"].append({"input": name, "bytes": len(data), "status": response.status_code,
                                     "code": response.json().get("error") if response.status_code != 200 else None,
                                     "seconds": round(took, 2), "rss_mb": round(rss, 1),
                                     "as_expected": response.status_code in ok})
        time.sleep(5)
        cpu_before = _usage(server.pid)[1]
        time.sleep(1)
        report["after_5s"] = {"rss_mb": round(_server_rss_mb(server.pid), 1),
                              "cpu_s_per_s": round(_usage(server.pid)[1] - cpu_before, 2)}
        # several clients over good and hostile inputs: no 5xx, same answer to the same input
        answers: dict[str, set] = {}
        statuses: list[int] = []
        mix = list(cases.items())

        def client(k: int) -> None:
            end, i = time.monotonic() + seconds, k
            while time.monotonic() < end:
                name, (data, filename, _) = mix[i % len(mix)]
                i += 1
                response = _post(base, data, filename)
                statuses.append(response.status_code)
                answers.setdefault(name, set()).add(response.content if response.status_code != 504 else b"504")

        for round_ in (1, 2):
            statuses.clear()
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(client, range(clients)))
            report[f"load_round_{round_}"] = {
                "requests": len(statuses), "5xx": sum(s >= 500 and s != 504 for s in statuses),
                "504": statuses.count(504), "rss_mb": round(_server_rss_mb(server.pid), 1)}
        report["differing_answers"] = sorted(n for n, a in answers.items() if len(a - {b"504"}) > 1)
        report["peak_rss_mb"] = round(peak, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args(argv)
    result = probe(args.timeout, args.workers, args.clients, args.seconds)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0 if all(i["as_expected"] for i in result["inputs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
