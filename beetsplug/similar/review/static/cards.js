// The grid of one group's photos: the number of columns that makes the
// smallest photo largest, each photo as large as its cell allows, a line of
// facts under it always (more where the cell has room).
"use strict";

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
  // The photo first: the caption has the lines the cell has room for, one at least.
  const room = grid.ch - grid.sizes[n][1];
  caption.style.maxHeight = `${LINE * Math.max(1, Math.floor(room / LINE))}px`;
  element.append(frame, caption);
  element.addEventListener("click", () => { cursors.set(d.index, n); toggle(); });
  return element;
}
