/* sipref: counts that open their list, and the requirement list's filters. No dependencies. */
(function () {
  "use strict";

  // A dashboard count names the list behind it (data-list); make the number a link to it.
  function linkCounts() {
    document.querySelectorAll("td[data-list]").forEach(function (cell) {
      if (cell.querySelector("a")) return;
      var a = document.createElement("a");
      a.href = cell.getAttribute("data-list");
      a.textContent = cell.textContent;
      a.className = "sipref-count-link";
      cell.textContent = "";
      cell.appendChild(a);
    });
  }

  // The requirement list: rows carry data-section/level/status; the form and the URL's
  // query (?level=MUST&status=todo&section=16.6&under=16&q=word) choose which show.
  function filterList() {
    var form = document.querySelector("form.sipref-filter");
    var table = document.querySelector("table.sipref-reqlist");
    if (!form || !table) return;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var output = form.querySelector("output");
    var params = new URLSearchParams(window.location.search);
    params.forEach(function (value, key) {
      var field = form.elements.namedItem(key);
      if (field) field.value = value;
    });

    function apply(push) {
      var want = {};
      var query = new URLSearchParams();
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.value) {
          want[el.name] = el.value;
          query.set(el.name, el.value);
        }
      });
      var words = (want.q || "").toLowerCase();
      var shown = 0;
      rows.forEach(function (row) {
        var d = row.dataset;
        var ok =
          (!want.level || d.level === want.level) &&
          (!want.status || d.status === want.status) &&
          (!want.verified || d.verified === want.verified) &&
          (!want.section || d.section === want.section) &&
          (!want.under || d.section === want.under || d.section.indexOf(want.under + ".") === 0) &&
          (!words || row.textContent.toLowerCase().indexOf(words) >= 0);
        row.hidden = !ok;
        if (ok) shown += 1;
      });
      if (output) {
        output.textContent = shown + " of " + rows.length + " requirements" +
          (want.section ? " (section " + want.section + " only)" : "");
      }
      if (push) {
        var search = query.toString();
        history.replaceState(null, "", search ? "?" + search : window.location.pathname);
      }
    }

    form.addEventListener("input", function () { apply(true); });
    form.addEventListener("change", function () { apply(true); });
    form.addEventListener("submit", function (event) { event.preventDefault(); apply(true); });
    apply(false);
  }

  /* Under each classified requirement's card (RFC 3261, and each extension RFC with a
     classification): where a tester can observe it (or why not) and the conformance cases
     judging it with a verdict per stack.  The data is one shared file
     (sipref-observability.js, written by annotate.sphinxext.observability) so that the spec
     pages stay light. */
  var ICONS = { pass: "\u2713", fail: "\u2717", error: "\u2717", warn: "!", inconclusive: "?" };
  function observability() {
    var data = window.siprefObservability;
    if (!data || !data.req) { return; }
    document.querySelectorAll('.sipref-card[id^="cite-rfc"]').forEach(function (card) {
      var entry = data.req[card.id.slice(5)];
      if (!entry || card.querySelector(".sipref-obs")) { return; }
      var line = document.createElement("p");
      line.className = "sipref-obs";
      if (entry.r) {
        line.appendChild(document.createTextNode("Observable: " + entry.r.join(", ")));
      } else {
        line.classList.add("sipref-obs-no");
        line.appendChild(document.createTextNode("Not observable: " + data.reasons[entry.n]));
      }
      (entry.c || []).forEach(function (index, i) {
        line.appendChild(document.createTextNode(i ? ", " : " \u00b7 judged by "));
        var code = document.createElement("code");
        code.textContent = data.cases[index];
        line.appendChild(code);
        (data.verdicts[index] || []).forEach(function (pair) {
          var badge = document.createElement("span");
          var verdict = pair[1];
          badge.className = "sipref-verdict verdict-" + verdict.replace(/[^a-z]+/g, "-");
          badge.textContent = " " + (ICONS[verdict] || "\u2013");
          badge.title = data.stacks[pair[0]] + ": " + verdict;
          line.appendChild(badge);
        });
      });
      card.appendChild(line);
    });
  }

  function start() {
    linkCounts();
    filterList();
    observability();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

/* Sphinx's search fetches each result page and looks its anchor up with querySelector;
   RFC anchors hold dots (#section-20.22), which must be escaped in a CSS selector. */
(function () {
  "use strict";
  function patch() {
    if (typeof Search === "undefined" || !Search.htmlToText || Search._siprefEscaped) return;
    var original = Search.htmlToText;
    Search.htmlToText = function (html, anchor) {
      if (anchor && anchor.charAt(0) === "#" && window.CSS && CSS.escape) {
        anchor = "#" + CSS.escape(anchor.slice(1));
      }
      return original(html, anchor);
    };
    Search._siprefEscaped = true;
  }
  patch();
  document.addEventListener("DOMContentLoaded", patch);
})();
