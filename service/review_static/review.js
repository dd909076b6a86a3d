// The review page's behaviour: open a report, trace a figure to its span, correct, save.
// Plain JavaScript, no build step. Report text is never put in the page as markup by
// this script: the server renders it escaped, and everything the script writes from
// the report goes through textContent or input values.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

let state = null;   // the extraction under review (with its text), corrected in place
let chunks = [];    // the text's span elements with their offsets: {el, s, e}

function status(message, isError = false) {
  const out = $("#status");
  out.textContent = message;
  out.classList.toggle("error", isError);
}

// A server fragment (rendered and escaped by service/review_view.py), or a thrown error
// with the JSON error's detail.
async function fragment(url, options = {}) {
  const response = await fetch(url, options);
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(`${response.status}: ${detail}`);
  }
  return response.text();
}

// --- opening ------------------------------------------------------------------------

// Page images (read by OCR): several of them, given together, are the pages of one report.
const IMAGE_TYPES = ["image/png", "image/jpeg", "image/tiff"];
const isImage = file => IMAGE_TYPES.includes(file.type) || /\.(png|jpe?g|tiff?)$/i.test(file.name);
const byName = (a, b) => a.name.localeCompare(b.name, undefined, {numeric: true});
const OCR_SECONDS_A_PAGE = 3;

// One report: a file, or the page images of one scanned report (in name order), sent
// as several ``file`` fields of one request, as POST /v1/extract takes them.
async function openFiles(list) {
  let files = Array.from(list || []);
  if (!files.length) return;
  const images = files.every(isImage);
  if (files.length > 1 && !images) {
    status("一次只能打开一份报告：多个文件须是同一份扫描报告的页面图像（PNG、JPEG、TIFF）", true);
    return;
  }
  files = files.sort(byName);
  const maxMb = Number(document.body.dataset.maxMb || 20);
  const size = files.reduce((sum, f) => sum + f.size, 0);
  if (size > maxMb * 1024 * 1024) {
    status(`${files.length > 1 ? `这 ${files.length} 个文件` : `文件 ${files[0].name}`}超过上传上限 ${maxMb} MB`, true);
    return;
  }
  const form = new FormData();
  for (const file of files) form.append("file", file);
  const what = files.length > 1 ? `${files.length} 张页面图像（${files.map(f => f.name).join("、")}）` : files[0].name;
  let hint = "";
  if (images) {
    hint = `文字识别（OCR）每页约需 ${OCR_SECONDS_A_PAGE} 秒，约 ${files.length * OCR_SECONDS_A_PAGE} 秒`;
  } else if (/\.pdf$/i.test(files[0].name) || files[0].type === "application/pdf") {
    hint = "扫描的 PDF 需文字识别（OCR），每页约需几秒";
  }
  await show(`正在读取 ${what}`, () => fragment("/review/open", {method: "POST", body: form}), hint);
}

// While a report is read: a progress bar and the seconds gone (a scan takes a few
// seconds a page).
async function show(message, load, hint = "") {
  const bar = $("#busy");
  const started = Date.now();
  const tick = () => {
    const seconds = Math.round((Date.now() - started) / 1000);
    status(`${message} … ${seconds ? `已用 ${seconds} 秒` : ""}${hint ? `（${hint}）` : ""}`);
  };
  tick();
  const timer = setInterval(tick, 1000);
  bar.hidden = false;
  $("#report").setAttribute("aria-busy", "true");
  try {
    $("#report").innerHTML = await load();  // server-escaped HTML
    bindReport();
    status("");
  } catch (err) {
    status(`无法打开：${err.message}`, true);
  } finally {
    clearInterval(timer);
    bar.hidden = true;
    $("#report").removeAttribute("aria-busy");
  }
}

function bindReport() {
  const data = $("#report-data");
  state = data ? JSON.parse(data.textContent) : null;
  chunks = $$("#text span[data-s]").map(el => ({el, s: Number(el.dataset.s), e: Number(el.dataset.e)}));
  document.dispatchEvent(new CustomEvent("review:loaded"));
}

// --- tracing ------------------------------------------------------------------------

function clearMarks() {
  for (const el of $$("#text .active")) {
    el.classList.remove("active");
    el.removeAttribute("aria-current");
    el.removeAttribute("data-page-badge");
    el.removeAttribute("data-conf-badge");
  }
  for (const el of $$(".sel, .hl")) el.classList.remove("sel", "hl");
}

// Cut the text element holding ``offset`` in two there (a corrected span need not
// start or end where the server cut the text), so that a span is whole elements.
function splitAt(offset) {
  const i = chunks.findIndex(c => c.s < offset && offset < c.e);
  if (i < 0) return;
  const {el, s, e} = chunks[i];
  const tail = el.cloneNode(false);
  tail.textContent = el.textContent.slice(offset - s);
  el.textContent = el.textContent.slice(0, offset - s);
  el.dataset.e = String(offset);
  tail.dataset.s = String(offset);
  el.after(tail);
  chunks[i] = {el, s, e: offset};
  chunks.splice(i + 1, 0, {el: tail, s: offset, e});
}

// Scroll the text pane (not the page) so that ``el`` is in its middle.
function scrollText(el) {
  const pane = $("#text");
  const top = el.getBoundingClientRect().top - pane.getBoundingClientRect().top + pane.scrollTop;
  pane.scrollTop = Math.max(0, top - pane.clientHeight / 2);
}

// Where a figure was read from, as the extraction says (its ``locations`` / a metric's
// ``location``, rendered by the server as data-page / data-conf): "第N页", with OCR's
// confidence when OCR read it.
function pageText(page, conf) {
  return page ? `第${page}页${conf ? ` · OCR 置信度 ${conf}` : ""}` : "";
}

// Highlight spans of the text ([start, end] pairs); scroll to the first; say where
// (the page beside each span that has one). ``location``: the traced figure's, said
// when it has no span in the text.
function highlight(spans, label, location = null) {
  const found = [];
  for (const [start, end] of spans) {
    splitAt(start);
    splitAt(end);
    const els = chunks.filter(c => c.s >= start && c.e <= end && c.e > c.s).map(c => c.el);
    for (const el of els) {
      el.classList.add("active");
      el.setAttribute("aria-current", "true");
    }
    if (els.length) {
      const last = els[els.length - 1];
      const located = els.find(el => el.dataset.page);
      if (located) {
        last.dataset.pageBadge = located.dataset.page;
        if (located.dataset.conf) last.dataset.confBadge = located.dataset.conf;
      }
      found.push({start, end, el: els[0], located});
    }
  }
  const trace = $("#trace");
  if (!found.length) {
    const page = location ? pageText(location.page, location.confidence == null ? "" : location.confidence.toFixed(2)) : "";
    trace.textContent = `${label}：原文中没有记录位置${page ? `（${page}）` : ""}`;
    return;
  }
  scrollText(found[0].el);
  const where = found.map(f => {
    const page = f.located ? ` · ${pageText(f.located.dataset.page, f.located.dataset.conf)}` : "";
    return `「${state.text.slice(f.start, f.end)}」 ${f.start}–${f.end}${page}`;
  });
  trace.textContent = `${label}：${where.join("； ")}`;
}

function traceCell(input) {
  clearMarks();
  input.classList.add("sel");
  const key = input.dataset.cell;
  const span = (state.provenance || {})[key];
  highlight(span ? [span] : [], `${key} = ${input.value || "（空）"}`, (state.locations || {})[key]);
}

function traceMetric(row) {
  clearMarks();
  row.classList.add("sel");
  const m = state.metrics[Number(row.dataset.metric)];
  if (m) highlight([[m.start, m.end]], `${m.type}${m.channel ? "/" + m.channel : ""} = ${m.value}`, m.location);
}

function traceCheck(item) {
  clearMarks();
  item.classList.add("sel");
  const check = state.checks[Number(item.dataset.check)];
  for (const key of check.cells || []) {
    const input = document.querySelector(`[data-cell="${CSS.escape(key)}"]`);
    if (input) input.classList.add("hl");
  }
  highlight(check.spans || [], `${check.rule} [${check.scope}]`);
}

// --- correcting ---------------------------------------------------------------------

// The text offsets of the current selection inside the text pane, or null.
function selectedSpan() {
  const sel = window.getSelection();
  if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
  const range = sel.getRangeAt(0);
  const offset = (node, at) => {
    const el = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
    const chunk = el && el.closest("#text span[data-s]");
    return chunk ? Number(chunk.dataset.s) + (node.nodeType === Node.TEXT_NODE ? at : 0) : null;
  };
  const start = offset(range.startContainer, range.startOffset);
  const end = offset(range.endContainer, range.endOffset);
  return start === null || end === null || end <= start ? null : {start, end};
}

function cellValue(raw) {
  const text = raw.trim();
  if (text === "") return null;
  const number = text.replace(/[,，\s]/g, "");
  return /^-?\d+(\.\d+)?$/.test(number) ? Number(number) : text;  // a dash or 无 stays as printed
}

function editCell(input) {
  const [table, row, col] = input.dataset.cell.split(".");
  const tables = state.tables;
  tables[table] = tables[table] || {};
  tables[table][row] = tables[table][row] || {};
  tables[table][row][col] = cellValue(input.value);
  input.classList.add("edited");
}

function firstNumber(text) {
  const found = text.replace(/[,，]/g, "").match(/\d+(\.\d+)?/);
  return found ? Number(found[0]) : null;
}

function showMetricSpan(row, m) {
  $(".m-text", row).textContent = state.text.slice(m.start, m.end);
  $(".m-where", row).textContent = `${m.start}–${m.end}`;
}

function editMetric(row, target) {
  const m = state.metrics[Number(row.dataset.metric)];
  if (target.classList.contains("m-type")) m.type = target.value;
  if (target.classList.contains("m-channel")) m.channel = target.value || null;
  if (target.classList.contains("m-value")) m.value = firstNumber(target.value) ?? target.value;
  if (target.classList.contains("m-unit")) m.unit = target.value;
  row.classList.add("edited");
}

function metricSpanFromSelection(row) {
  const span = selectedSpan();
  if (!span) { status("先在原文中选中这个指标的文字", true); return; }
  const m = state.metrics[Number(row.dataset.metric)];
  Object.assign(m, span);
  m.text = state.text.slice(span.start, span.end);
  showMetricSpan(row, m);
  traceMetric(row);
}

function addMetric() {
  const span = selectedSpan();
  if (!span) { status("先在原文中选中指标的文字（如「门户网站发布信息 395 篇」）", true); return; }
  const text = state.text.slice(span.start, span.end);
  const m = {type: "published_items", channel: "all", value: firstNumber(text), unit: "", ...span, text};
  state.metrics.push(m);
  const row = $("#metric-template").content.firstElementChild.cloneNode(true);
  row.dataset.metric = String(state.metrics.length - 1);
  $(".m-value", row).value = m.value ?? "";
  showMetricSpan(row, m);
  $("#metrics tbody").appendChild(row);
  traceMetric(row);
}

function deleteMetric(row) {
  state.metrics[Number(row.dataset.metric)] = null;  // indices of the others stay
  row.classList.add("deleted");
}

// A section's start moved: its heading is the line there, the section before ends there.
function moveSection(row, start) {
  const i = Number(row.dataset.section);
  const sections = state.sections;
  if (!Number.isInteger(start) || start < 0 || start > state.text.length) return;
  sections[i].start = start;
  const lineEnd = state.text.indexOf("\n", start);
  sections[i].heading = state.text.slice(start, lineEnd < 0 ? state.text.length : lineEnd).replace(/\s+$/, "");
  if (i > 0) sections[i - 1].end = start;
  $(".s-heading", row).textContent = sections[i].heading;
  $(".s-start", row).value = String(start);
  const before = $(`tr[data-section="${i - 1}"] .s-end`);
  if (before) before.textContent = String(start);
  highlight([[start, start + sections[i].heading.length]], `${sections[i].key} 的起点`);
}

async function save() {
  const out = $("#save-status");
  const correction = {
    text: state.text, layout: state.layout, sections: state.sections, tables: state.tables,
    metrics: state.metrics.filter(m => m !== null),
  };
  const headers = {"Content-Type": "application/json"};
  const token = $("#token").value;
  if (token) headers.Authorization = `Bearer ${token}`;
  out.textContent = "正在保存…";
  out.classList.remove("error");
  try {
    const response = await fetch("/review/save", {method: "POST", headers, body: JSON.stringify(correction)});
    const body = await response.json();
    if (!response.ok) throw new Error(body.problems ? body.problems.join("\n") : `${response.status}: ${body.detail}`);
    out.textContent = `已${body.updated ? "更新" : "保存"}：${body.gold}（与 ${body.text}）`;
    out.dataset.saved = body.id;
  } catch (err) {
    out.textContent = `未保存：${err.message}`;
    out.classList.add("error");
  }
}

// --- the archive --------------------------------------------------------------------

async function listStore(event) {
  event.preventDefault();
  const params = new URLSearchParams();
  const agency = $("#store-agency").value.trim();
  const year = $("#store-year").value.trim();
  if (agency) params.set("agency", agency);
  if (year) params.set("year", year);
  try {
    $("#store-list").innerHTML = await fragment(`/review/store?${params}`);  // server-escaped HTML
  } catch (err) {
    status(`无法列出存档：${err.message}`, true);
  }
}

function onClick(event) {
  const target = event.target;
  const report = target.closest("[data-report]");
  if (report) return show("正在读取存档报告…", () => fragment(`/review/stored/${encodeURIComponent(report.dataset.report)}`));
  const agency = target.closest("[data-agency]");
  if (agency) return show("正在比较历年…", () => fragment(`/review/agency?agency=${encodeURIComponent(agency.dataset.agency)}`));
  if (!state) return;
  if (target.id === "save-button") return save();
  if (target.id === "add-metric") return addMetric();
  const row = target.closest("tr[data-metric]");
  if (row && target.classList.contains("m-span")) return metricSpanFromSelection(row);
  if (row && target.classList.contains("m-delete")) return deleteMetric(row);
  const section = target.closest("tr[data-section]");
  if (section && target.classList.contains("s-span")) {
    const span = selectedSpan();
    return span ? moveSection(section, span.start) : status("先在原文中选中新一节标题的开头", true);
  }
  const cell = target.closest("[data-cell]");
  if (cell) return traceCell(cell);
  if (row) return traceMetric(row);
  const check = target.closest("[data-check]");
  if (check) return traceCheck(check);
  const inText = target.closest("#text span[data-s]");
  if (inText && inText.dataset.m !== undefined) {
    const metricRow = $(`tr[data-metric="${inText.dataset.m}"]`);
    if (metricRow) return traceMetric(metricRow);
  }
  if (inText && inText.dataset.c) {
    const input = document.querySelector(`[data-cell="${CSS.escape(inText.dataset.c)}"]`);
    if (input) { input.scrollIntoView({block: "nearest"}); return traceCell(input); }
  }
  return undefined;
}

function onChange(event) {
  if (!state) return;
  const target = event.target;
  if (target.matches("[data-cell]")) return editCell(target);
  const row = target.closest("tr[data-metric]");
  if (row) return editMetric(row, target);
  const section = target.closest("tr[data-section]");
  if (section && target.classList.contains("s-start")) return moveSection(section, Number(target.value));
  return undefined;
}

function onKey(event) {
  if (event.key === "Enter" && event.target.matches("[data-check]")) traceCheck(event.target);
}

function setUp() {
  const drop = $("#drop");
  $("#file").addEventListener("change", e => {
    const files = Array.from(e.target.files);
    e.target.value = "";  // (the same file picked again opens again)
    openFiles(files);
  });
  drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", e => {
    e.preventDefault();
    drop.classList.remove("over");
    openFiles(e.dataTransfer.files);
  });
  if (document.body.dataset.token === "1" && document.body.dataset.save === "1") $("#token-box").hidden = false;
  const storeForm = $("#store-form");
  if (storeForm) storeForm.addEventListener("submit", listStore);
  document.addEventListener("click", onClick);
  document.addEventListener("change", onChange);
  document.addEventListener("keydown", onKey);
}

document.addEventListener("DOMContentLoaded", setUp);
