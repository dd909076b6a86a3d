"""``govreport bench`` runs end to end on a small scale and measures against its baselines.

(Only that it measures what it says: the figures themselves belong in the benchmark's
output, not in assertions.)
"""

from __future__ import annotations

from training import bench


def test_bench_measures_text_pdf_ocr_http_and_jobs_beside_their_baselines(tmp_path):
    texts = bench.bench_texts(limit=4)
    assert len(texts) == 4 and all("二、" in t or "主动公开" in t for t in texts)

    text = bench.bench_text(texts, rounds=1)
    assert text["reports"] == 4
    assert text["reports_per_s"] > 0 and text["jieba_lcut_reports_per_s"] > 0
    assert text["cost_vs_jieba"] > 0 and text["peak_rss_mb"] > 0
    stages = text["stages_ms"]
    assert list(stages) == ["ingest", "relayout", "segment", "tables", "metrics", "checks", "json"]
    assert all(ms > 0 for ms in stages.values())

    pdf = bench.bench_pdf(rounds=1)
    assert pdf["files"] and pdf["ratio"] > 0

    scans = bench.bench_ocr(rounds=1, dpi=150, limit=1)
    assert scans["files"] == ["000_62418b5d58b13a7d.pdf"] and scans["pages"] == 3
    assert scans["ocr_s_per_page"] > 0 and scans["pdfplumber_extract_text_ms_per_report"] > 0
    assert scans["ocr_vs_pdfplumber"] > 1 and scans["peak_rss_mb"] > 0

    http = bench.bench_http(texts, concurrencies=(1, 2), requests_per_level=6)
    assert http["startup_to_first_answer_s"] > 0 and http["server_rss_mb"] > 0
    assert http["jieba_load_floor_s"] > 0 and http["first_start_s"] > 0
    for level in http["levels"].values():
        assert level["requests"] == 6 and level["errors"] == 0
        assert level["in_process_per_s"] > 0 and level["vs_in_process"] > 0

    jobs = bench.bench_jobs(texts, tmp_path, files=6)
    assert jobs["files"] == 6 and len(list(tmp_path.glob("r*.txt"))) == 6
    assert jobs["jobs_1_wall_s"] > 0
    # six result lines are too few to time a rate: none is claimed rather than a silly one
    rates = [v for k, v in jobs.items() if k.endswith("_reports_per_s")]
    assert rates and all(r is None for r in rates) and jobs["speed_up"] is None
