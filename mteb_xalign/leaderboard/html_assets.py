"""The page's inline CSS and JavaScript (no CDN: the page works opened from disk).

The script never turns text into markup: it sorts rows, and hides rows and columns by
comparing data-* attributes with the controls' values.
"""

CSS = """
:root { color-scheme: light; --line: #d0d7de; --muted: #57606a; --accent: #0b5cad; --warn: #9a6700; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1500px; padding: 1.5rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 .3rem; }
p.intro { color: var(--muted); margin-top: 0; max-width: 75rem; }
dl.explain { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 1rem 0;
             padding: .8rem 1rem; background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; font-size: .93em; }
dl.explain dt { font-weight: 600; }
dl.explain dd { margin: 0; }
.controls { display: flex; flex-wrap: wrap; gap: .6rem 1.2rem; align-items: end; margin: .8rem 0; padding: .7rem 1rem;
            border: 1px solid var(--line); border-radius: 6px; }
.controls label { display: flex; flex-direction: column; font-size: .85em; color: var(--muted); gap: .15rem; }
.controls input, .controls select { font: inherit; color: #1f2328; padding: .25rem .4rem; border: 1px solid var(--line);
                                    border-radius: 4px; min-width: 9rem; }
#shown { color: var(--muted); font-size: .9em; margin-left: auto; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .45rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; }
thead th { background: #f6f8fa; position: sticky; top: 0; font-size: .9em; }
th button { all: unset; cursor: pointer; font-weight: 600; display: inline-flex; gap: .25rem; }
th button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
th button::after { content: "\\2195"; color: #8c959f; font-weight: 400; }
th[aria-sort="ascending"] button::after { content: "\\25B2"; color: var(--accent); }
th[aria-sort="descending"] button::after { content: "\\25BC"; color: var(--accent); }
th.group { text-align: center; border-bottom: 2px solid var(--line); }
tbody tr:hover { background: #f6f8fa; }
.model { font-weight: 600; overflow-wrap: anywhere; }
#leaderboard td.modelcell { min-width: 13rem; max-width: 22rem; }
.rev { color: var(--muted); font-family: ui-monospace, monospace; font-size: .82em; overflow-wrap: anywhere; }
.flag { display: block; color: var(--warn); font-size: .8em; margin-top: .15rem; }
.flag::before { content: "\\26A0\\FE0E  "; }
.prov { display: block; color: var(--muted); font-size: .78em; }
.missing { color: #8c959f; }
.chance { color: var(--muted); }
.ci, .band { display: block; color: var(--muted); font-size: .78em; white-space: nowrap; }
.noci { font-style: italic; }
.tier { display: inline-block; margin-top: .15rem; padding: 0 .45rem; border-radius: 1rem; font-size: .8em; white-space: nowrap; }
.tier-great { background: #dafbe1; color: #116329; }
.tier-good { background: #fff8c5; color: #7d4e00; }
.tier-none { background: #ffebe9; color: #a40e26; }
.check { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-size: .85em; white-space: nowrap; }
.check-verified { background: #dafbe1; color: #116329; }
.check-verified::before { content: "\\2713\\FE0E  "; }
.check-self-reported { background: #eaeef2; color: #3d444d; }
.check-failed-verification { background: #ffebe9; color: #a40e26; font-weight: 600; }
.check-failed-verification::before { content: "\\2717\\FE0E  "; }
.checkwhy { display: block; color: var(--muted); font-size: .78em; max-width: 16rem; }
.files a { display: block; white-space: nowrap; font-size: .85em; }
a { color: var(--accent); }
#leaderboard { font-size: .9em; }
#leaderboard thead th { vertical-align: bottom; }
#leaderboard th.num { min-width: 4.6rem; }
table.heat { width: auto; }
table.heat td.cell { text-align: center; min-width: 3.6rem; }
table.heat td.empty { background: #eaeef2; color: #8c959f; text-align: center; }
table.heat th[scope="row"] { font-weight: 400; min-width: 13rem; }
.legend { display: flex; align-items: center; gap: .6rem; margin: .4rem 0 .6rem; font-size: .85em; color: var(--muted); }
.legend .bar { width: 220px; height: 12px; border: 1px solid var(--line); background: linear-gradient(to right, %GRADIENT%); }
[hidden] { display: none !important; }
footer { margin-top: 2rem; color: var(--muted); font-size: .85em; }
"""

# Sorting: numbers compare as numbers, text with localeCompare; missing values always go
# last; ties keep their previous order (Array.prototype.sort is stable).
JS = """
(function () {
  "use strict";
  function key(row, index, numeric) {
    var raw = row.cells[index].getAttribute("data-value");
    if (raw === null || raw === "") { return null; }
    return numeric ? parseFloat(raw) : raw;
  }
  function makeSortable(table) {
    var heads = table.tHead.rows[table.tHead.rows.length - 1].cells;
    function sortBy(index) {
      var th = heads[index];
      var numeric = th.getAttribute("data-type") === "number";
      var current = th.getAttribute("aria-sort");
      var first = th.getAttribute("data-first") || (numeric ? "descending" : "ascending");
      var order = current === first ? (first === "ascending" ? "descending" : "ascending") : first;
      var sign = order === "ascending" ? 1 : -1;
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, index, numeric), y = key(b, index, numeric);
        if (x === null || y === null) { return (x === null) - (y === null); }
        if (numeric) { return sign * (x - y); }
        return sign * x.localeCompare(y);
      });
      rows.forEach(function (row) { body.appendChild(row); });
      for (var i = 0; i < heads.length; i++) {
        if (heads[i].hasAttribute("aria-sort")) { heads[i].setAttribute("aria-sort", "none"); }
      }
      th.setAttribute("aria-sort", order);
    }
    Array.prototype.forEach.call(heads, function (th, index) {
      var button = th.querySelector("button");
      if (button) { button.addEventListener("click", function () { sortBy(index); }); }
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);

  var controls = ["search", "language", "size", "license", "open"].map(function (id) {
    return document.getElementById("filter-" + id);
  });
  function words(value) { return (value || "").split(" "); }
  function rowVisible(row, f) {
    if (f.search && row.getAttribute("data-search").indexOf(f.search) < 0) { return false; }
    var langs = words(row.getAttribute("data-langs"));  // "*": the model declares no languages
    if (f.language && langs.indexOf("*") < 0 && langs.indexOf(f.language) < 0) { return false; }
    if (f.size && row.getAttribute("data-size") !== f.size) { return false; }
    if (f.license && row.getAttribute("data-license") !== f.license) { return false; }
    if (f.open && row.getAttribute("data-open") !== f.open) { return false; }
    return true;
  }
  function apply() {
    var f = { search: controls[0].value.trim().toLowerCase(), language: controls[1].value,
              size: controls[2].value, license: controls[3].value, open: controls[4].value };
    var visible = {};
    var shown = 0, total = 0;
    Array.prototype.forEach.call(document.querySelectorAll("#leaderboard tbody tr"), function (row) {
      var ok = rowVisible(row, f);
      row.hidden = !ok;
      visible[row.getAttribute("data-key")] = ok;
      total += 1; shown += ok ? 1 : 0;
    });
    Array.prototype.forEach.call(document.querySelectorAll("table.heat tbody tr"), function (row) {
      row.hidden = !visible[row.getAttribute("data-key")];
    });
    // Per-task views: with a language chosen, only the subsets that involve it.
    Array.prototype.forEach.call(document.querySelectorAll("table.heat [data-langs]"), function (cell) {
      cell.hidden = !!f.language && words(cell.getAttribute("data-langs")).indexOf(f.language) < 0;
    });
    document.getElementById("shown").textContent = shown + " of " + total + " model revisions shown";
  }
  controls.forEach(function (control) {
    if (control) { control.addEventListener("input", apply); control.addEventListener("change", apply); }
  });
  if (controls[0]) { apply(); }
})();
"""
