// beets-similar review: one group at a time, its photos filling the window,
// keyboard first. Groups are fetched one by one (the next one prefetched,
// with its images); every action is a POST that the server commits before it
// answers. Loaded last: common.js, cards.js, compare.js, overview.js and
// bulk.js come first.
"use strict";

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
  const known = details.has(index);
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
  if (known) recheck(index);
}

// A group read before may have changed since (in another tab, or by
// `beet similar-undo`): it is read again, with the counts, and shown as it
// is now.
async function recheck(i) {
  const shown = details.get(i);
  details.delete(i);
  try {
    const [d] = await Promise.all([fetchGroup(i), refreshState()]);
    if (index !== i || d.version === (await shown).version) return;
    marks.delete(i);
    current = d;
    defaults(d);
    render();
  } catch (e) { /* shown as read before: an action is checked again anyway */ }
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
    $("#reason").append("keep ", b, `: ${d.said}${state}`);
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
