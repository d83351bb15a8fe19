// beets-similar review: what every script of the page shares (loaded first).
// The review's cookie (set when the private launch file was opened) goes
// with every request: no token is in any address.
"use strict";

const $ = (sel) => document.querySelector(sel);
const details = new Map();   // group index -> its JSON, or a pending promise
const marks = new Map();     // group index -> Set of photo ids to keep
const picked = new Map();    // group index -> the photo the others are duplicates of
const cursors = new Map();   // group index -> cursor position among its photos
let total = 0, index = 0, mode = "trash", busy = false, current = null;
let listing = null;          // every group's index, kind, count, cover, state (the overview)
let only = "";               // a kind: j and k go through its groups only

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

function span(cls, text, title) {
  const element = document.createElement("span");
  element.className = cls;
  element.textContent = text;
  if (title) element.title = title;
  return element;
}
