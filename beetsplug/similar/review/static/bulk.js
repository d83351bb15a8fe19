// Bulk: the suggested keepers of every open group of one kind; the dialog
// lists per kind what would go, exact copies chosen first.
"use strict";

const REASONS = ["sharper", "better exposed", "RAW original", "larger", "older", "newer",
                 "better format", "more metadata", "edited", "imported first"];
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
  if (!kinds.length) {
    $("#bulk-count").textContent = "no open group to apply: nothing to do";
    return;
  }
  const row = (cells, tag = "td") => {
    const tr = document.createElement("tr");
    tr.append(...cells.map((text) => {
      const cell = document.createElement(tag);
      cell.textContent = text;
      return cell;
    }));
    return tr;
  };
  const head = document.createElement("thead");
  head.append(row(["kind", "groups", "photos", move ? "files moved" : "files to the trash",
                   "size"], "th"));
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
    const none = bulkKind === "exact" ? "group of exact copies" : `${bulkKind} group`;
    $("#bulk-count").textContent = `no open ${none}: choose a kind (↑ ↓ or a click)`;
    return;
  }
  const files = move ? c.files : c.trash_files, size = move ? c.bytes : c.trash_bytes;
  const one = c.kept_sidecars === 1;
  const kept = !move && c.kept_sidecars
    ? `; ${plural(c.kept_sidecars, "sidecar")} ${one ? "stays" : "stay"}, renamed to the ` +
      `kept ${one ? "photo that has" : "photos that have"} none` : "";
  $("#bulk-count").textContent =
    `${move ? "Move to the duplicates folder" : "Send to the trash"}: ` +
    `${plural(c.photos, "photo")} (${plural(files, "file")}, ${bytes(size)}) from ` +
    `${plural(c.groups, bulkKind + " group")}, keeping the suggested keeper of each${kept}. ` +
    "u undoes it as one action.";
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
