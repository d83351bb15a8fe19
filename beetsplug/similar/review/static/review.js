// beets-similar review: one group at a time, keyboard first.
// Groups are fetched one by one (the next one prefetched, with its
// images); every action is a POST that the server commits before it answers.
"use strict";

const token = document.body.dataset.token;
const $ = (sel) => document.querySelector(sel);
const details = new Map();   // group index -> its JSON, or a pending promise
const marks = new Map();     // group index -> Set of photo ids to keep
const picked = new Map();    // group index -> the photo the others are duplicates of
const cursors = new Map();   // group index -> cursor position among its photos
let total = 0, index = 0, mode = "trash", busy = false, current = null;

const REASONS = ["sharper", "better exposed", "RAW original", "larger", "older", "newer",
                 "better format", "more metadata", "edited", "imported first"];

async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: {"X-Review-Token": token, "Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({error: response.statusText}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

const img = (id, size) => `/img/${id}/${size}?token=${encodeURIComponent(token)}`;

function bytes(n) {
  for (const [unit, step] of [["GB", 1e9], ["MB", 1e6], ["KB", 1e3]])
    if (n >= step) { const v = n / step; return (v < 100 ? v.toFixed(1) : v.toFixed(0)) + " " + unit; }
  return n + " bytes";
}

function say(text, error = false) {
  const footer = $("#message");
  footer.textContent = text;
  footer.className = error ? "error" : "";
}

function fetchGroup(i) {
  if (!details.has(i)) {
    // An answer that comes after the group was read again (an action
    // meanwhile dropped it) is not kept.
    const pending = api("GET", `/api/groups/${i}`).then(
      (d) => { if (details.get(i) === pending) details.set(i, d); return d; },
      (e) => { if (details.get(i) === pending) details.delete(i); throw e; });
    details.set(i, pending);
  }
  return Promise.resolve(details.get(i));
}

// Large previews as decoded <img> elements, kept for the groups near the
// one shown: moving on inserts an image already decoded.
const shots = new Map();  // photo id -> [img element, group index]

function shot(id, i) {
  if (!shots.has(id)) {
    const element = new Image();
    element.className = "shot";
    element.alt = "";
    element.src = img(id, "large");
    element.decode().catch(() => {});
    shots.set(id, [element, i]);
  }
  return shots.get(id)[0];
}

function prefetch(i) {
  if (i < 0 || i >= total) return;
  fetchGroup(i).then((d) => d.photos.forEach((p) => shot(p.id, i))).catch(() => {});
}

function forgetShots() {
  for (const [id, [, i]] of shots) if (Math.abs(i - index) > 2) shots.delete(id);
}

function defaults(d) {
  if (!marks.has(d.index)) {
    const keep = new Set(d.photos.filter((p) => p.reference).map((p) => p.id));
    if (d.keep !== null) keep.add(d.keep);
    marks.set(d.index, keep);
    picked.set(d.index, d.keep);
    cursors.set(d.index, Math.max(0, d.photos.findIndex((p) => p.id === d.keep)));
  }
}

let remembered = null;
function remember(i) {  // where the review is, for the next similar-review
  clearTimeout(remembered);
  remembered = setTimeout(() => api("POST", "/api/position", {index: i}).catch(() => {}), 300);
}

async function show(i) {
  if (total === 0) return;
  index = Math.min(Math.max(0, i), total - 1);
  try {
    current = await fetchGroup(index);
  } catch (e) { say(e.message, true); return; }
  if (current.index !== index) return;  // the user moved on meanwhile
  defaults(current);
  render();
  remember(index);
  forgetShots();
  prefetch(index + 1);
  prefetch(index - 1);
}

function render() {
  const d = current, keep = marks.get(d.index), cursor = cursors.get(d.index);
  document.body.className = d.state;
  $("#counter").textContent = `group ${d.index + 1} of ${total}`;
  $("#kind").textContent = d.kind;
  const state = {resolved: " (resolved)", kept_all: " (kept all: not duplicates)",
                 skipped: " (skipped before)", open: ""}[d.state] || "";
  const suggested = d.photos.findIndex((p) => p.id === d.keep);
  $("#reason").innerHTML = "";
  if (suggested >= 0) {
    $("#reason").append("suggested keeper: ");
    const b = document.createElement("b");
    b.textContent = `${suggested + 1}. ${d.photos[suggested].name}`;
    $("#reason").append(b, `: ${d.reason}${state}`);
  } else {
    $("#reason").textContent = "no photo of this group is left in the library" + state;
  }
  const out = mode === "move" ? "→ duplicates folder" : "→ trash";
  const cards = d.photos.map((p, n) => {
    const card = document.createElement("div");
    const kept = keep.has(p.id);
    card.className = `card ${kept ? "keep" : "out"} ${mode}` + (n === cursor ? " cursor" : "");
    card.dataset.id = p.id;
    card.innerHTML = `<span class="num"></span><span class="fate"></span>
      <div class="name"></div><div class="facts"></div><div class="ref"></div><div class="note"></div>`;
    card.prepend(shot(p.id, d.index));
    card.querySelector(".num").textContent = n < 9 ? String(n + 1) : "";
    card.querySelector(".fate").textContent = kept ? "keep" : out;
    card.querySelector(".name").textContent = p.name;
    card.querySelector(".facts").textContent =
      `${p.width}×${p.height} · ${bytes(p.size)}` + (p.files > 1 ? ` · ${p.files} files` : "");
    card.querySelector(".ref").textContent = p.reference ? "in a reference folder: always kept" : "";
    card.querySelector(".note").textContent = p.note ? `stayed: ${p.note}` : "";
    card.addEventListener("click", () => { cursors.set(d.index, n); toggle(); });
    return card;
  });
  $("#photos").replaceChildren(...cards);
  $("#gone").textContent = d.gone.length
    ? `${d.gone.length} photo(s) of this group are no longer in the library (trashed or removed)` : "";
  const rows = d.differences.map((f) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = f.label;
    tr.append(th);
    f.shown.forEach((text, n) => {
      const td = document.createElement("td");
      td.textContent = `${n + 1}. ${text}`;
      if (f.best.includes(n)) td.className = "best";
      tr.append(td);
    });
    return tr;
  });
  $("#diffs").replaceChildren(...rows);
  $("#mode").textContent = mode === "move" ? "Enter: move the unmarked to the duplicates folder"
                                           : "Enter: trash the unmarked";
  $("#mode").className = "pill " + mode;
}

async function refreshState() {
  const s = await api("GET", "/api/state");
  total = s.total;
  $("#totals").textContent = `${s.resolved} resolved · ${s.freed_files} files ` +
    `(${bytes(s.freed_bytes)}) to the trash` + (s.moved_files ? ` · ${s.moved_files} moved` : "");
  return s;
}

function pick(n) {
  const d = current;
  if (!d || n >= d.photos.length) return;
  const id = d.photos[n].id;
  marks.set(d.index, new Set([id, ...d.photos.filter((p) => p.reference).map((p) => p.id)]));
  picked.set(d.index, id);
  cursors.set(d.index, n);
  render();
}

function toggle() {
  const d = current, photo = d && d.photos[cursors.get(d.index)];
  if (!photo) return;
  const keep = marks.get(d.index);
  if (photo.reference) { say("a photo in a reference folder is always kept", true); return; }
  if (keep.has(photo.id)) keep.delete(photo.id); else keep.add(photo.id);
  render();
}

function moveCursor(step) {
  const d = current;
  if (!d || !d.photos.length) return;
  cursors.set(d.index, (cursors.get(d.index) + step + d.photos.length) % d.photos.length);
  render();
}

async function act(run) {  // one action at a time; the group is read again after it
  if (busy || !current) return;
  busy = true;
  const i = current.index;
  try {
    const [message, next] = await run(i);
    details.delete(i);
    await refreshState();
    await show(next);
    say(message);
  } catch (e) {
    say(e.message, true);
  } finally { busy = false; }
}

function apply() {
  act(async (i) => {
    const d = current, keep = marks.get(i), first = picked.get(i);
    const ids = d.photos.map((p) => p.id).filter((id) => keep.has(id));
    ids.sort((a, b) => (b === first) - (a === first));
    const r = await api("POST", `/api/groups/${i}/apply`, {keep: ids, action: mode});
    const stayed = Object.keys(r.refused).length;
    const verb = mode === "move" ? "moved to the duplicates folder" : "sent to the trash";
    marks.delete(i);
    return [`${r.done} photo(s) ${verb}` + (stayed ? `; ${stayed} stayed (reason on the page)` : "") +
            "; u undoes", r.state === "resolved" && i + 1 < total ? i + 1 : i];
  });
}

function keepAll() {
  act(async (i) => {
    await api("POST", `/api/groups/${i}/keep-all`);
    return ["kept all: not duplicates, this group will not come back; u undoes",
            Math.min(i + 1, total - 1)];
  });
}

function skip() {
  act(async (i) => {
    await api("POST", `/api/groups/${i}/skip`);
    return ["skipped", Math.min(i + 1, total - 1)];
  });
}

function undo() {
  act(async (i) => {
    const r = await api("POST", "/api/undo");
    details.clear();  // a bulk run undone touches many groups
    if (r.index !== null) marks.delete(r.index);
    const what = {trash: "the trash", move: "the move", keep_all: "keep all", skip: "the skip"}[r.undone];
    return [`undid ${what}` + (r.errors.length ? `: ${r.errors.join("; ")}` : ""),
            r.index === null ? i : r.index];
  });
}

// Compare: two photos side by side, zoom and pan synced, up to 100 %.
const view = {scale: 1, cx: 0.5, cy: 0.5, ids: []};

function compare() {
  const d = current;
  if (!d || d.photos.length < 2) return;
  const n = cursors.get(d.index);
  const keeper = d.photos.findIndex((p) => p.id === picked.get(d.index));
  const other = n !== keeper ? n : (keeper + 1) % d.photos.length;
  view.ids = [d.photos[Math.max(0, keeper)], d.photos[other]];
  Object.assign(view, {scale: 1, cx: 0.5, cy: 0.5});
  fillCompare();
  $("#compare").hidden = false;
}

function fillCompare() {
  document.querySelectorAll("#compare .pane").forEach((pane, k) => {
    const p = view.ids[k], image = pane.querySelector("img");
    image.onload = layout;
    image.src = img(p.id, "full");
    pane.querySelector(".label").textContent =
      `${current.photos.indexOf(p) + 1}. ${p.name} (${p.width}×${p.height})`;
  });
}

function fit(pane, image) {
  return Math.min(pane.clientWidth / image.naturalWidth, pane.clientHeight / image.naturalHeight);
}

function fullScale() {  // the zoom at which the most detailed image shows its own pixels
  const panes = [...document.querySelectorAll("#compare .pane")];
  const fits = panes.map((pane) => pane.querySelector("img"))
    .map((image, k) => image.naturalWidth ? 1 / fit(panes[k], image) : 0);
  return Math.max(...fits) || 1;
}

function layout() {  // zoom from fit up to 100 %, never past (small photos: 100 %)
  const full = fullScale();
  view.scale = Math.min(Math.max(Math.min(1, full), view.scale), full);
  let shown = Infinity;
  document.querySelectorAll("#compare .pane").forEach((pane) => {
    const image = pane.querySelector("img");
    if (!image.naturalWidth) return;
    const s = fit(pane, image) * view.scale;
    const x = pane.clientWidth / 2 - view.cx * image.naturalWidth * s;
    const y = pane.clientHeight / 2 - view.cy * image.naturalHeight * s;
    image.style.transform = `translate(${x}px, ${y}px) scale(${s})`;
    shown = Math.min(shown, s);
  });
  if (shown < Infinity) $("#zoom").textContent = `${Math.round(shown * 100)} %`;
}

function zoom(factor) { view.scale *= factor; layout(); }
function pan(dx, dy) {  // by screen pixels
  const pane = document.querySelector("#compare .pane"), image = pane.querySelector("img");
  if (!image.naturalWidth) return;
  const s = fit(pane, image) * view.scale;
  view.cx = Math.min(1, Math.max(0, view.cx - dx / (image.naturalWidth * s)));
  view.cy = Math.min(1, Math.max(0, view.cy - dy / (image.naturalHeight * s)));
  layout();
}

let drag = null;
$("#compare").addEventListener("mousedown", (e) => { drag = [e.clientX, e.clientY]; e.preventDefault(); });
window.addEventListener("mouseup", () => { drag = null; });
window.addEventListener("mousemove", (e) => {
  if (!drag) return;
  pan(e.clientX - drag[0], e.clientY - drag[1]);
  drag = [e.clientX, e.clientY];
});
$("#compare").addEventListener("wheel", (e) => { e.preventDefault(); zoom(e.deltaY < 0 ? 1.25 : 0.8); },
                               {passive: false});
window.addEventListener("resize", () => { if (!$("#compare").hidden) layout(); });

function compareKey(e) {
  const keys = {
    "+": () => zoom(1.25), "=": () => zoom(1.25), "-": () => zoom(0.8),
    "0": () => { view.scale = 1; layout(); }, "1": () => { view.scale = fullScale(); layout(); },
    "x": () => { view.ids.reverse(); fillCompare(); },
    "ArrowLeft": () => pan(80, 0), "ArrowRight": () => pan(-80, 0),
    "ArrowUp": () => pan(0, 80), "ArrowDown": () => pan(0, -80),
    "z": close, "Escape": close,
  };
  if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
}

// Bulk: the suggested keepers of every open group of a kind.
async function bulkOpen() {
  const s = await refreshState();
  const kinds = Object.keys(s.open);
  if (!kinds.length) { say("no open groups left"); return; }
  $("#bulk-kind").replaceChildren(...kinds.map((k) => new Option(`${k} (${s.open[k]} open)`, k)));
  if (current && kinds.includes(current.kind)) $("#bulk-kind").value = current.kind;
  const reasons = new Set(REASONS);
  if (current && current.reason) reasons.add(current.reason);
  $("#bulk-reason").replaceChildren(new Option("kept for any reason", ""),
                                    ...[...reasons].map((r) => new Option(r, r)));
  $("#bulk").hidden = false;
  bulkCount();
}

let bulkFilter = null;
async function bulkCount() {
  const q = new URLSearchParams({kind: $("#bulk-kind").value, reason: $("#bulk-reason").value});
  bulkFilter = {kind: $("#bulk-kind").value, reason: $("#bulk-reason").value};
  $("#bulk-count").textContent = "counting…";
  try {
    const c = await api("GET", `/api/bulk?${q}`);
    const move = mode === "move";
    const verb = move ? "Move to the duplicates folder" : "Send to the trash";
    const files = move ? c.files : c.trash_files, size = move ? c.bytes : c.trash_bytes;
    $("#bulk-count").textContent = c.photos
      ? `${verb}: ${c.photos} photos (${files} files, ${bytes(size)}) from ${c.groups} groups, ` +
        "keeping the suggested keeper of each" +
        (!move && c.kept_sidecars ? `; ${c.kept_sidecars} sidecars stay, renamed to the ` +
         "kept photos that have none" : "") + ". u undoes it as one action."
      : "no group matches: nothing to do";
  } catch (e) { $("#bulk-count").textContent = e.message; }
}
$("#bulk-kind").addEventListener("change", bulkCount);
$("#bulk-reason").addEventListener("change", bulkCount);

function bulkGo() {
  const filter = bulkFilter;
  close();
  act(async (i) => {
    const r = await api("POST", "/api/bulk", {...filter, action: mode});
    details.clear();
    marks.clear();
    return [`bulk: ${r.done || 0} photos done in ${r.groups} groups` +
            (r.refused ? `; ${r.refused} stayed (see their groups)` : "") + "; u undoes", i];
  });
}

function close() {
  document.querySelectorAll(".overlay").forEach((o) => { o.hidden = true; });
}

$("#bulk-go").addEventListener("click", bulkGo);
$("#bulk-cancel").addEventListener("click", close);
$("#bulk-open").addEventListener("click", bulkOpen);
$("#help-open").addEventListener("click", () => { $("#help").hidden = false; });
$("#mode").addEventListener("click", () => { mode = mode === "trash" ? "move" : "trash"; render(); });

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (!$("#compare").hidden) { compareKey(e); return; }
  if (!$("#bulk").hidden) {
    if (e.key === "Enter") { e.preventDefault(); bulkGo(); }
    if (e.key === "Escape") close();
    return;
  }
  if (!$("#help").hidden) { if (e.key === "Escape" || e.key === "?") close(); return; }
  if (e.target.tagName === "SELECT") return;
  const keys = {
    "ArrowRight": () => show(index + 1), "j": () => show(index + 1),
    "ArrowLeft": () => show(index - 1), "k": () => show(index - 1),
    "ArrowDown": () => moveCursor(1), "ArrowUp": () => moveCursor(-1),
    "Tab": () => moveCursor(e.shiftKey ? -1 : 1),
    " ": toggle, "Enter": apply, "a": keepAll, "s": skip, "u": undo, "z": compare,
    "m": () => { mode = mode === "trash" ? "move" : "trash"; render(); },
    "b": bulkOpen, "?": () => { $("#help").hidden = false; },
  };
  if (/^[1-9]$/.test(e.key)) { e.preventDefault(); pick(Number(e.key) - 1); return; }
  if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
});

(async () => {
  try {
    const s = await refreshState();
    if (!total) { say("no groups to review"); return; }
    await show(s.start);
  } catch (e) { say(e.message, true); }
})();
