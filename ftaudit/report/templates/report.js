// Filtering, sorting and j/k navigation only: the report is complete without this script.
(function () {
  "use strict";
  var controls = document.getElementById("filters");
  if (!controls) { return; }
  controls.hidden = false;
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-finding]"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.file"));
  var severityBoxes = Array.prototype.slice.call(controls.querySelectorAll("input[name=severity]"));
  var ruleSelect = document.getElementById("filter-rule");
  var fileSelect = document.getElementById("filter-file");
  var text = document.getElementById("filter-text");
  var status = document.getElementById("filter-status");

  function apply() {
    var severities = {};
    severityBoxes.forEach(function (box) { severities[box.value] = box.checked; });
    var rule = ruleSelect.value, file = fileSelect.value, needle = text.value.toLowerCase();
    var shown = {};
    rows.forEach(function (row) {
      var ok = severities[row.dataset.severity] !== false &&
        (!rule || row.dataset.rule === rule) && (!file || row.dataset.file === file) &&
        (!needle || row.textContent.toLowerCase().indexOf(needle) !== -1);
      row.hidden = !ok;
      if (ok && row.tagName === "ARTICLE") { shown[row.id] = true; }
    });
    sections.forEach(function (section) {
      section.hidden = !section.querySelector("article[data-finding]:not([hidden])");
    });
    status.textContent = Object.keys(shown).length + " of " +
      document.querySelectorAll("article[data-finding]").length + " findings shown";
  }
  severityBoxes.forEach(function (box) { box.addEventListener("change", apply); });
  ruleSelect.addEventListener("change", apply);
  fileSelect.addEventListener("change", apply);
  text.addEventListener("input", apply);

  // Sortable overview table; aria-sort says which column and direction.
  var table = document.getElementById("overview");
  if (table) {
    var body = table.tBodies[0];
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var sorted = Array.prototype.slice.call(body.rows).sort(function (a, b) {
          var x = a.cells[column].dataset.key || a.cells[column].textContent;
          var y = b.cells[column].dataset.key || b.cells[column].textContent;
          var cmp = x.localeCompare(y, undefined, { numeric: true });
          return ascending ? cmp : -cmp;
        });
        sorted.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  // j / k: next / previous visible finding; "/" focuses the text filter.
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (event.key === "/") { event.preventDefault(); text.focus(); return; }
    if (event.key !== "j" && event.key !== "k") { return; }
    var visible = Array.prototype.slice.call(document.querySelectorAll("article[data-finding]:not([hidden])"));
    if (!visible.length) { return; }
    var current = visible.indexOf(document.activeElement.closest ? document.activeElement.closest("article") : null);
    var next = event.key === "j" ? Math.min(current + 1, visible.length - 1) : Math.max(current - 1, 0);
    visible[next].focus();
    visible[next].scrollIntoView({ block: "start" });
  });
  apply();
}());
