// Check access without reloading the page: start it, then follow it until its result replaces the card.
(function () {
  "use strict";

  function card() { return document.getElementById("access"); }

  function readJson(response) {
    var type = response.headers.get("Content-Type") || "";
    if (type.indexOf("application/json") === -1) {
      throw new Error("Check access: the server answered HTTP " + response.status + ". Try again.");
    }
    return response.json();
  }

  function showError(text) {
    var alert = document.createElement("div");
    alert.className = "alert alert-warning mt-2 mb-0";
    alert.setAttribute("role", "alert");
    alert.textContent = text;
    var body = card().querySelector(".card-body");
    (body || card()).appendChild(alert);
  }

  function showFieldErrors(form, errors) {
    var input = form.querySelector('[name="tables"]');
    form.querySelectorAll("[data-access-error]").forEach(function (node) { node.remove(); });
    var text = (errors.tables || []).map(function (e) { return e.message; }).join(" ");
    if (!input || !text) return;
    input.classList.add("is-invalid");
    var feedback = document.createElement("div");
    feedback.className = "invalid-feedback d-block";
    feedback.setAttribute("data-access-error", "");
    feedback.textContent = text;
    input.insertAdjacentElement("afterend", feedback);
    input.focus();
  }

  // A check takes a few round trips: ask every 200 ms, then less often (at most once a second).
  function follow(data, wait) {
    if (data.html) card().innerHTML = data.html;
    if (data.done || !data.status_url) return;
    window.setTimeout(function () {
      fetch(data.status_url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(readJson)
        .then(function (now) { follow(now, Math.min(wait * 1.5, 1000)); })
        .catch(function () { showError("Check access: its progress could not be read. Reload the page."); });
    }, wait);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-access-form]")) return;
    event.preventDefault();
    var button = form.querySelector("[data-access-button]");
    if (button) {
      button.disabled = true;
      var spinner = button.querySelector("[data-spinner]");
      if (spinner) spinner.classList.remove("d-none");
    }
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(readJson)
      .then(function (data) {
        if (data.errors) { showFieldErrors(form, data.errors); return; }
        if (data.ok === false && !data.status_url) { showError(data.message || "Check access did not start."); return; }
        follow(data, 200);
      })
      .catch(function (error) { showError(error.message || "Check access: the request did not reach the server."); })
      .finally(function () {
        if (button && document.body.contains(button)) {
          button.disabled = false;
          var spinner = button.querySelector("[data-spinner]");
          if (spinner) spinner.classList.add("d-none");
        }
      });
  });
})();
