/* Web catalogue of the sandbox: progressive enhancement only (every page reads fine without it).
 * - copy buttons for the cURL commands (clipboard API, or a selection fallback);
 * - instant filtering of the operations list (the ?q= form keeps working without it);
 * - "try it": prefill from a case, send the request with fetch(), show status, headers and body. */
(function () {
  "use strict";

  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function label(name, fallback) {
    var template = document.getElementById("try-labels");
    var found = template && template.content.querySelector('[data-label="' + name + '"]');
    return found ? found.textContent.trim() : fallback;
  }

  function announce(text) {
    var live = document.getElementById("live");
    if (!live) return;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 60);
  }

  /* -- copy ------------------------------------------------------------------------------ */

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (error) { done = false; }
      document.body.removeChild(area);
      if (done) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  function copyStatus(button) {
    var status = button.nextElementSibling;
    if (!status || !status.classList.contains("copy-status")) {
      status = document.createElement("span");
      status.className = "copy-status";
      status.setAttribute("role", "status");
      button.insertAdjacentElement("afterend", status);
    }
    return status;
  }

  all("button.copy[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var status = copyStatus(button);
      copyText(source ? source.textContent : "").then(
        function () { status.textContent = label("copied", "Copied."); },
        function () { status.textContent = label("copy-failed", "Copy failed."); }
      );
    });
  });

  /* -- operations filter ----------------------------------------------------------------- */

  var search = document.querySelector('form[data-filter="operations"]');
  if (search) {
    var input = search.querySelector('input[type="search"]');
    var count = document.getElementById("search-count");
    var rows = all("tr[data-search]");
    var filter = function () {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (row) {
        var haystack = row.getAttribute("data-search");
        var visible = terms.every(function (term) { return haystack.indexOf(term) !== -1; });
        row.hidden = !visible;
        if (visible) shown += 1;
      });
      all("[data-provider]").forEach(function (section) {
        section.hidden = !section.querySelector("tr[data-search]:not([hidden])");
      });
      all("[data-api]").forEach(function (section) {
        section.hidden = !section.querySelector("[data-provider]:not([hidden])");
      });
      if (count) {
        count.textContent = shown
          ? count.getAttribute("data-template-some").replace("{shown}", shown).replace("{total}", rows.length)
          : count.getAttribute("data-template-none");
      }
      var url = new URL(window.location.href);
      if (input.value.trim()) { url.searchParams.set("q", input.value.trim()); } else { url.searchParams.delete("q"); }
      window.history.replaceState(null, "", url.toString());
    };
    input.addEventListener("input", filter);
  }

  /* -- try it ------------------------------------------------------------------------------ */

  var form = document.getElementById("try-form");
  var dataNode = document.getElementById("try-data");
  if (!form || !dataNode) return;
  var data = JSON.parse(dataNode.textContent);
  var token = document.getElementById("try-token");
  var send = form.querySelector("button[data-needs-js]");
  send.disabled = false;

  var chooser = document.getElementById("try-case");
  if (chooser) {
    chooser.addEventListener("change", function () {
      var prefill = data.cases[chooser.value];
      if (!prefill) return;
      Object.keys(prefill.values).forEach(function (id) {
        var control = document.getElementById(id);
        if (control) control.value = prefill.values[id];
      });
      token.value = prefill.token;
      announce(chooser.options[chooser.selectedIndex].text);
    });
  }

  function buildRequest() {
    var path = data.path;
    var query = new URLSearchParams();
    all("[data-location]", form).forEach(function (control) {
      var name = control.getAttribute("data-name");
      if (control.getAttribute("data-location") === "path") {
        path = path.split("{" + name + "}").join(encodeURIComponent(control.value.trim()));
      } else if (control.hasAttribute("data-array")) {
        var key = /\[\]$/.test(name) ? name : name + "[]";
        control.value.split("\n").map(function (v) { return v.trim(); }).filter(Boolean).forEach(function (v) {
          query.append(key, v);
        });
      } else if (control.value !== "") {
        query.append(name, control.value);
      }
    });
    var headers = {};
    var value = token.value.trim();
    if (value) {
      if (data.auth === "X-Api-Key") { headers["X-Api-Key"] = value; } else { headers.Authorization = "Bearer " + value; }
    }
    var prefer = preferHeader();
    if (prefer) headers.Prefer = prefer;
    var qs = query.toString();
    return { path: path, qs: qs, target: path + (qs ? "?" + qs : ""), headers: headers };
  }

  /* Prefer: case=..., code=..., delay=..., fault=... from the scenario controls (RFC 7240). */
  function preferValue(text) {
    return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(text) ? text : '"' + text.replace(/[\\"]/g, "\\$&") + '"';
  }

  function preferHeader() {
    return all("[data-prefer]", form)
      .filter(function (control) { return control.value.trim() !== ""; })
      .map(function (control) { return control.getAttribute("data-prefer") + "=" + preferValue(control.value.trim()); })
      .join(", ");
  }

  function field(name) { return document.querySelector('#try-result [data-result="' + name + '"]'); }

  function show(request, response, body) {
    var result = document.getElementById("try-result");
    var caseHeader = response ? response.headers.get("x-sandbox-case") : null;
    var verdict = "error";
    if (response && response.headers.get("x-sandbox-outcome") === "preference") verdict = "preference";
    else if (caseHeader && caseHeader !== "default" && caseHeader !== "none") verdict = "hit";
    else if (caseHeader === "default") verdict = "miss";
    field("status").textContent = response ? "HTTP " + response.status + " " + response.statusText : label("network", "Failed:");
    field("verdict").textContent = response ? label(verdict, verdict) : "";
    field("verdict").className = "badge " + (verdict === "hit" || verdict === "preference" ? "ok" : verdict === "miss" ? "warn" : "error");
    field("url").textContent = "GET " + request.target;
    all("#try-result [data-header]").forEach(function (cell) {
      var found = response ? response.headers.get(cell.getAttribute("data-header")) : null;
      cell.textContent = found === null ? "—" : found;
    });
    var text = body;
    try { text = JSON.stringify(JSON.parse(body), null, 2); } catch (error) { /* not JSON: shown as is */ }
    field("body").textContent = text;
    var explain = field("explain");
    explain.hidden = verdict === "hit" || verdict === "preference";
    field("explain-link").setAttribute("href", "/__sandbox/explain" + request.path + (request.qs ? "?" + request.qs : ""));
    result.hidden = false;
    result.setAttribute("data-verdict", verdict);
    document.getElementById("try-result-title").focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var request = buildRequest();
    send.disabled = true;
    fetch(request.target, { headers: request.headers, cache: "no-store" })
      .then(function (response) {
        return response.text().then(function (body) { show(request, response, body); });
      })
      .catch(function (error) { show(request, null, String(error)); })
      .then(function () { send.disabled = false; });
  });
})();
