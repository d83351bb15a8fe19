// The overview: every group's thumbnail, kind, size and state; a kind
// chosen here is the one j and k go through.
"use strict";

const STATES = {open: "open", resolved: "resolved", kept_all: "kept all", skipped: "skipped"};
const DECIDED = ["resolved", "kept_all"];
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
