// beets-similar review: one group at a time, its photos filling the window,
// keyboard first. Groups are fetched one by one (the next one prefetched,
// with its images); every action is a POST that the server commits before it
// answers. The review's cookie (set when the private launch file was opened)
// goes with every request: no token is in any address.
"use strict";

const $ = (sel) => document.querySelector(sel);
const details = new Map();   // group index -> its JSON, or a pending promise
const marks = new Map();     // group index -> Set of photo ids to keep
const picked = new Map();    // group index -> the photo the others are duplicates of
const cursors = new Map();   // group index -> cursor position among its photos
let total = 0, index = 0, mode = "trash", busy = false, current = null;
let listing = null;          // every group's index, kind, count, cover, state (the overview)
let only = "";               // a kind: j and k go through its groups only

const REASONS = ["sharper", "better exposed", "RAW original", "larger", "older", "newer",
                 "better format", "more metadata", "edited", "imported first"];
const STATES = {open: "open", resolved: "resolved", kept_all: "kept all", skipped: "skipped"};
const DECIDED = ["resolved", "kept_all"];

async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: {"Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({error: response.statusText}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

const img = (id, size) => `/img/${id}/${size}`;
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function bytes(n) {
  for (const [unit, step] of [["GB", 1e9], ["MB", 1e6], ["KB", 1e3]])
    if (n >= step) { const v = n / step; return (v < 100 ? v.toFixed(1) : v.toFixed(0)) + " " + unit; }
  return n + " bytes";
}

let quiet = null;
function say(text, error = false) {  // one line, for a few seconds (errors longer)
  const box = $("#message");
  box.textContent = text;
  box.className = error ? "error" : "";
  box.hidden = !text;
  clearTimeout(quiet);
  if (text) quiet = setTimeout(() => { box.hidden = true; }, error ? 15000 : 6000);
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
  prefetch(next(index, 1));
  prefetch(next(index, -1));
}

function next(i, step) {  // the next group (of the kind chosen in the overview)
  if (!only || !listing) return i + step;
  const found = step > 0 ? listing.find((g) => g.index > i && g.kind === only)
                         : [...listing].reverse().find((g) => g.index < i && g.kind === only);
  return found ? found.index : i;
}

function go(step) {
  const to = next(index, step);
  if (to === index || to < 0 || to >= total)
    say(`no ${step > 0 ? "next" : "previous"} ${only ? only + " " : ""}group`);
  else show(to);
}

// The grid: the number of columns that makes the smallest photo largest,
// each photo as large as its cell allows, a line of facts under it always.
const GAP = 6, LINE = 18;

function arrange(photos) {
  const stage = $("#stage");
  const width = stage.clientWidth - 6, height = stage.clientHeight - 6;
  const sides = photos.map((p) => [p.width || 4, p.height || 3]);
  let best = null;
  for (let cols = 1; cols <= photos.length; cols++) {
    const rows = Math.ceil(photos.length / cols);
    const cw = Math.floor((width - GAP * (cols - 1)) / cols);
    const ch = Math.floor((height - GAP * (rows - 1)) / rows);
    if (cw < 40 || ch - LINE < 40) continue;
    const sizes = sides.map(([w, h]) => {
      const scale = Math.min(cw / w, (ch - LINE) / h);
      return [Math.floor(w * scale), Math.floor(h * scale)];
    });
    const smallest = Math.min(...sizes.map(([w, h]) => w * h));
    const sum = sizes.reduce((a, [w, h]) => a + w * h, 0);
    if (!best || smallest > best.smallest * 1.01 ||
        (smallest > best.smallest * 0.99 && sum > best.sum))
      best = {cols, cw, ch, sizes, smallest, sum};
  }
  return best || {cols: photos.length, cw: 40, ch: 40 + LINE, sizes: sides.map(() => [40, 30])};
}

function line(cls, ...parts) {  // a caption line of text parts and elements, " · " between
  const div = document.createElement("div");
  if (cls) div.className = cls;
  parts.filter((p) => p).forEach((p, n) => { if (n) div.append(" · "); div.append(p); });
  div.title = div.textContent;
  return div;
}

function span(cls, text, title) {
  const element = document.createElement("span");
  element.className = cls;
  element.textContent = text;
  if (title) element.title = title;
  return element;
}

function shortFolder(folder) {
  const parts = folder.split("/").filter((p) => p);
  return parts.length > 2 ? "…/" + parts.slice(-2).join("/") : folder;
}

function card(d, p, n, grid, keep, cursor) {
  const element = document.createElement("div");
  const kept = keep.has(p.id);
  element.className = `card ${kept ? "keep" : "out"} ${mode}` + (n === cursor ? " cursor" : "");
  element.dataset.id = p.id;
  const frame = document.createElement("div");
  frame.className = "frame";
  const image = shot(p.id, d.index);
  [image.style.width, image.style.height] = grid.sizes[n].map((v) => `${v}px`);
  const label = span("label", "", p.name);
  label.append(span("num", n < 9 ? String(n + 1) : ""), span("name", p.name));
  frame.append(image, label,
               span("fate", kept ? "keep" : mode === "move" ? "→ duplicates folder" : "→ trash"),
               span("note", p.note ? `stays: ${p.note}` : ""));
  const match = p.id === d.keep ? span("match", `suggested keeper (${d.reason})`)
                                : span("match", p.match, p.evidence);
  const caption = document.createElement("div");
  caption.className = "caption";
  caption.append(
    line("", match, span("folder", shortFolder(p.folder), p.folder), p.taken, p.camera),
    line("", `${p.width}×${p.height}`, bytes(p.size), p.files > 1 ? plural(p.files, "file") : ""),
    line("ref", p.reference ? "in a reference folder: always kept" : ""),
    line("", p.folder));
  caption.lastChild.classList.add("path");
  // The photo first: the caption has the lines the cell has room for, one at least.
  const room = grid.ch - grid.sizes[n][1];
  caption.style.maxHeight = `${LINE * Math.max(1, Math.floor(room / LINE))}px`;
  element.append(frame, caption);
  element.addEventListener("click", () => { cursors.set(d.index, n); toggle(); });
  return element;
}

function render() {
  const d = current, keep = marks.get(d.index), cursor = cursors.get(d.index);
  document.body.className = d.state;
  $("#counter").textContent = `group ${d.index + 1} of ${total}`;
  $("#kind").textContent = d.kind;
  $("#only").hidden = !only;
  $("#only").textContent = `only ${only}`;
  const state = {resolved: " (resolved)", kept_all: " (kept all: not duplicates)",
                 skipped: " (skipped before)", open: ""}[d.state] || "";
  const suggested = d.photos.findIndex((p) => p.id === d.keep);
  $("#reason").replaceChildren();
  if (suggested >= 0) {
    const b = document.createElement("b");
    b.textContent = `${suggested + 1}. ${d.photos[suggested].name}`;
    $("#reason").append("keep ", b, `: ${d.reason}${state}`);
  } else {
    $("#reason").textContent = "no photo of this group is left in the library" + state;
  }
  const grid = arrange(d.photos);
  const photos = $("#photos");
  photos.style.gridTemplateColumns = `repeat(${grid.cols}, ${grid.cw}px)`;
  photos.style.gridAutoRows = `${grid.ch}px`;
  photos.replaceChildren(...d.photos.map((p, n) => card(d, p, n, grid, keep, cursor)));
  $("#gone").textContent = d.gone.length
    ? `${plural(d.gone.length, "photo")} of this group ${d.gone.length === 1 ? "is" : "are"} ` +
      "no longer in the library (trashed or removed)" : "";
  const head = document.createElement("tr");
  head.append(...["", ...d.photos.map((p, n) => `${n + 1}. ${p.name}`)].map((text) => {
    const th = document.createElement("th");
    th.textContent = text;
    return th;
  }));
  const rows = d.differences.map((f) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = f.label;
    tr.append(th);
    f.shown.forEach((text, n) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (f.best.includes(n)) td.className = "best";
      tr.append(td);
    });
    return tr;
  });
  $("#diffs").replaceChildren(...(rows.length ? [head, ...rows] : []));
  $("#mode").textContent = mode === "move" ? "Enter: move to the duplicates folder"
                                           : "Enter: trash";
  $("#mode").className = "pill " + mode;
}

async function refreshState() {
  const s = await api("GET", "/api/state");
  total = s.total;
  $("#totals").textContent = `${s.resolved} of ${total} decided · ${plural(s.freed_files, "file")} ` +
    `(${bytes(s.freed_bytes)}) in the trash` + (s.moved_files ? ` · ${s.moved_files} moved` : "");
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
  const i = current.index, seen = current.version;
  try {
    const [message, to] = await run(i, seen);
    details.delete(i);
    await refreshState();
    await show(to);
    say(message);
  } catch (e) {
    // Refused (the group changed elsewhere, say): show it as it is now.
    details.delete(i);
    try {
      const d = await fetchGroup(i);
      if (d.version !== seen) marks.delete(i);
      if (index === i) await show(i);
    } catch (ignored) { /* the message below says what went wrong */ }
    say(e.message, true);
  } finally { busy = false; }
}

function stayed(list) {  // "; IMG_3.jpg stayed (why)": photos named by their file
  if (!list.length) return "";
  if (list.length === 1) return `; ${list[0].name} stayed (${list[0].why})`;
  return `; ${list.length} photos stayed: ` +
    list.slice(0, 3).map((s) => `${s.name} (${s.why})`).join(", ") +
    (list.length > 3 ? ` and ${list.length - 3} more (see their groups)` : "");
}

function verb() {
  return mode === "move" ? "moved to the duplicates folder" : "sent to the trash";
}

function apply() {
  act(async (i, version) => {
    const d = current, keep = marks.get(i), first = picked.get(i);
    const ids = d.photos.map((p) => p.id).filter((id) => keep.has(id));
    ids.sort((a, b) => (b === first) - (a === first));
    const r = await api("POST", `/api/groups/${i}/apply`, {keep: ids, action: mode, version});
    marks.delete(i);
    const head = r.done ? `${plural(r.done, "photo")} ${verb()}, u undoes` : `nothing was ${verb()}`;
    return [head + stayed(r.stayed), r.state === "resolved" ? next(i, 1) : i];
  });
}

function keepAll() {
  act(async (i, version) => {
    await api("POST", `/api/groups/${i}/keep-all`, {version});
    return ["kept all: not duplicates, this group will not come back; u undoes", next(i, 1)];
  });
}

function skip() {
  act(async (i, version) => {
    await api("POST", `/api/groups/${i}/skip`, {version});
    return ["skipped; it comes back in the next review", next(i, 1)];
  });
}

function undo() {
  act(async (i) => {
    const r = await api("POST", "/api/undo");
    details.clear();  // a bulk run undone touches many groups
    if (r.index !== null) marks.delete(r.index);
    const what = {trash: "the trash", move: "the move", keep_all: "keep all", skip: "the skip"}[r.undone];
    return [`undid ${what} of group ${r.index + 1}` +
            (r.already ? " (its files were back already: `beet similar-undo` put them back)" : "") +
            (r.errors.length ? `, with problems: ${r.errors.join("; ")}` : ""), r.index];
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

// The overview: every group's thumbnail, kind, size and state; a kind
// chosen here is the one j and k go through.
let tileAt = 0;

async function loadListing() {
  const all = [];
  for (let offset = 0; offset < total; offset += 500)
    all.push(...(await api("GET", `/api/groups?offset=${offset}&limit=500`)).groups);
  listing = all;
  return all;
}

function tilesShown() { return listing.filter((g) => !only || g.kind === only); }

async function overviewOpen() {
  $("#overview").hidden = false;
  $("#tiles").textContent = "loading…";
  try { await loadListing(); } catch (e) { $("#tiles").textContent = e.message; return; }
  tileAt = Math.max(0, tilesShown().findIndex((g) => g.index >= index));
  drawOverview();
}

function drawOverview() {
  const kinds = {};
  for (const g of listing) {
    const k = kinds[g.kind] || (kinds[g.kind] = {all: 0, done: 0});
    k.all += 1;
    k.done += DECIDED.includes(g.state);
  }
  const done = listing.filter((g) => DECIDED.includes(g.state)).length;
  $("#progress").textContent = `${done} of ${plural(listing.length, "group")} decided`;
  const chip = (kind, text) => {
    const b = document.createElement("button");
    b.textContent = text;
    b.className = kind === only ? "on" : "";
    b.addEventListener("click", () => choose(kind));
    return b;
  };
  $("#kinds").replaceChildren(chip("", `all (${listing.length})`),
    ...Object.entries(kinds).map(([k, c]) => chip(k, `${k}: ${c.done} of ${c.all} decided`)));
  const shown = tilesShown();
  tileAt = Math.min(tileAt, Math.max(0, shown.length - 1));
  $("#tiles").replaceChildren(...shown.map((g, n) => {
    const tile = document.createElement("div");
    tile.className = `tile ${g.state}` + (g.index === index ? " here" : "") + (n === tileAt ? " chosen" : "");
    tile.dataset.index = g.index;
    const thumb = new Image();
    thumb.loading = "lazy";
    thumb.alt = "";
    if (g.cover !== null) thumb.src = img(g.cover, "thumb");
    tile.append(thumb, span("state", STATES[g.state] || g.state),
                span("facts", `${g.index + 1} · ${g.kind} · ${plural(g.count, "photo")}`));
    tile.addEventListener("click", () => { close(); show(g.index); });
    return tile;
  }));
  const chosen = $("#tiles .chosen");
  if (chosen) chosen.scrollIntoView({block: "nearest"});
}

function choose(kind) {
  only = kind;
  drawOverview();
  if (current) render();
}

function overviewKey(e) {
  const shown = tilesShown();
  const columns = getComputedStyle($("#tiles")).gridTemplateColumns.split(" ").length;
  const kinds = ["", ...new Set(listing ? listing.map((g) => g.kind) : [])];
  const keys = {
    "ArrowRight": () => { tileAt += 1; }, "ArrowLeft": () => { tileAt -= 1; },
    "ArrowDown": () => { tileAt += columns; }, "ArrowUp": () => { tileAt -= columns; },
    "Enter": () => { const g = shown[tileAt]; if (g) { close(); show(g.index); } },
    "f": () => { only = kinds[(kinds.indexOf(only) + 1) % kinds.length]; if (current) render(); },
    "g": close, "Escape": close,
  };
  if (!keys[e.key]) return;
  e.preventDefault();
  if (!listing) { if (e.key === "Escape" || e.key === "g") close(); return; }
  keys[e.key]();
  if ($("#overview").hidden) return;
  tileAt = Math.min(Math.max(0, tileAt), Math.max(0, tilesShown().length - 1));
  drawOverview();
}

// Bulk: the suggested keepers of every open group of one kind; the dialog
// lists per kind what would go, exact copies chosen first.
let counted = {}, bulkKind = null;

async function bulkOpen() {
  const reasons = new Set(REASONS);
  if (current && current.reason) reasons.add(current.reason);
  const was = $("#bulk-reason").value;
  $("#bulk-reason").replaceChildren(new Option("kept for any reason", ""),
                                    ...[...reasons].map((r) => new Option(r, r)));
  $("#bulk-reason").value = was;
  bulkKind = "exact";  // the safest kind, every time the dialog opens
  $("#bulk").hidden = false;
  await bulkCount();
}

async function bulkCount() {
  $("#bulk-count").textContent = "counting…";
  $("#bulk-kinds").replaceChildren();
  counted = {};
  try {
    const q = new URLSearchParams({reason: $("#bulk-reason").value});
    counted = (await api("GET", `/api/bulk?${q}`)).kinds;
  } catch (e) { $("#bulk-count").textContent = e.message; return; }
  drawBulk();
}

function drawBulk() {
  const move = mode === "move";
  const kinds = Object.keys(counted);
  if (!kinds.length) { $("#bulk-count").textContent = "no open group to apply: nothing to do"; return; }
  const row = (cells, tag = "td") => {
    const tr = document.createElement("tr");
    tr.append(...cells.map((c) => { const cell = document.createElement(tag); cell.textContent = c; return cell; }));
    return tr;
  };
  const head = document.createElement("thead");
  head.append(row(["kind", "groups", "photos", move ? "files moved" : "files to the trash", "size"], "th"));
  const body = document.createElement("tbody");
  body.append(...kinds.map((k) => {
    const c = counted[k];
    const tr = row([(k === bulkKind ? "▶ " : "  ") + k, c.groups, c.photos,
                    move ? c.files : c.trash_files, bytes(move ? c.bytes : c.trash_bytes)]);
    tr.className = k === bulkKind ? "chosen" : "";
    tr.addEventListener("click", () => { bulkKind = k; drawBulk(); });
    return tr;
  }));
  $("#bulk-kinds").replaceChildren(head, body);
  const c = counted[bulkKind];
  if (!c) {
    $("#bulk-count").textContent = "no open group of exact copies: choose a kind (↑ ↓ or a click)";
    return;
  }
  const files = move ? c.files : c.trash_files, size = move ? c.bytes : c.trash_bytes;
  $("#bulk-count").textContent =
    `${move ? "Move to the duplicates folder" : "Send to the trash"}: ${plural(c.photos, "photo")} ` +
    `(${plural(files, "file")}, ${bytes(size)}) from ${plural(c.groups, bulkKind + " group")}, ` +
    "keeping the suggested keeper of each" +
    (!move && c.kept_sidecars ? `; ${plural(c.kept_sidecars, "sidecar")} ${c.kept_sidecars === 1 ? "stays" : "stay"}, ` +
     "renamed to the kept photos that have none" : "") + ". u undoes it as one action.";
}

function bulkKey(e) {
  const kinds = Object.keys(counted);
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    const at = kinds.indexOf(bulkKind) + (e.key === "ArrowDown" ? 1 : -1);
    bulkKind = kinds[Math.min(Math.max(0, at), kinds.length - 1)] || null;
    drawBulk();
  }
  if (e.key === "Enter") { e.preventDefault(); bulkGo(); }
  if (e.key === "Escape") close();
}

$("#bulk-reason").addEventListener("change", bulkCount);

function bulkGo() {
  const c = counted[bulkKind], kind = bulkKind, reason = $("#bulk-reason").value;
  if (!c) return;
  close();
  act(async (i) => {
    const r = await api("POST", "/api/bulk", {kind, reason, action: mode,
                                              expect: {groups: c.groups, photos: c.photos}});
    details.clear();
    marks.clear();
    return [`bulk: ${plural(r.done, "photo")} ${verb()} from ${plural(r.groups, kind + " group")}` +
            (r.done ? ", u undoes" : "") + stayed(r.stayed), i];
  });
}

function close() {
  document.querySelectorAll(".overlay").forEach((o) => { o.hidden = true; });
}

function toDetails() {  // d: the fields that differ, below the photos, and back
  const below = window.scrollY > 10;
  window.scrollTo({top: below ? 0 : $("#details").offsetTop - 40});
}

$("#bulk-go").addEventListener("click", bulkGo);
$("#bulk-cancel").addEventListener("click", close);
$("#bulk-open").addEventListener("click", bulkOpen);
$("#overview-open").addEventListener("click", overviewOpen);
$("#help-open").addEventListener("click", () => { $("#help").hidden = false; });
$("#mode").addEventListener("click", () => { mode = mode === "trash" ? "move" : "trash"; render(); });
window.addEventListener("resize", () => { if (current && $("#compare").hidden) render(); });

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (!$("#compare").hidden) { compareKey(e); return; }
  if (!$("#bulk").hidden) { if (e.target.tagName !== "SELECT" || e.key === "Escape") bulkKey(e); return; }
  if (!$("#overview").hidden) { overviewKey(e); return; }
  if (!$("#help").hidden) { if (e.key === "Escape" || e.key === "?") close(); return; }
  if (e.target.tagName === "SELECT") return;
  const keys = {
    "ArrowRight": () => go(1), "j": () => go(1),
    "ArrowLeft": () => go(-1), "k": () => go(-1),
    "ArrowDown": () => moveCursor(1), "ArrowUp": () => moveCursor(-1),
    "Tab": () => moveCursor(e.shiftKey ? -1 : 1),
    " ": toggle, "Enter": apply, "a": keepAll, "s": skip, "u": undo, "z": compare,
    "m": () => { mode = mode === "trash" ? "move" : "trash"; render(); },
    "b": bulkOpen, "g": overviewOpen, "d": toDetails, "?": () => { $("#help").hidden = false; },
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
