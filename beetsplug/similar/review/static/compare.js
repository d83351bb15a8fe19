// Compare: two photos side by side, zoom and pan synced, up to 100 %.
"use strict";

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
