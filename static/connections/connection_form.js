// TEST without reloading the page: the typed values (the secret included) stay in the form.
(function () {
  "use strict";

  function setBusy(button, busy) {
    if (!button) return;
    button.disabled = busy;
    button.setAttribute("aria-busy", busy ? "true" : "false");
    var spinner = button.querySelector("[data-spinner]");
    if (spinner) spinner.classList.toggle("d-none", !busy);
  }

  function clearFieldErrors(form) {
    form.querySelectorAll("[data-js-error]").forEach(function (node) { node.remove(); });
    form.querySelectorAll(".is-invalid").forEach(function (node) { node.classList.remove("is-invalid"); });
  }

  function showFieldErrors(form, errors) {
    Object.keys(errors).forEach(function (name) {
      var input = form.querySelector('[name="' + name + '"]');
      var text = errors[name].map(function (e) { return e.message; }).join(" ");
      var feedback = document.createElement("div");
      feedback.className = "invalid-feedback d-block";
      feedback.setAttribute("data-js-error", "");
      feedback.textContent = text;
      if (input) {
        input.classList.add("is-invalid");
        var wrapper = input.closest(".mb-3") || input.parentElement;
        wrapper.appendChild(feedback);
      } else {
        document.getElementById("test-result").appendChild(feedback);
      }
    });
    var first = form.querySelector(".is-invalid");
    if (first) first.focus();
  }

  function showMessage(html, text) {
    var target = document.getElementById("test-result");
    if (html) {
      target.innerHTML = html;
    } else {
      var alert = document.createElement("div");
      alert.className = "alert alert-danger";
      alert.setAttribute("role", "alert");
      alert.textContent = text;
      target.replaceChildren(alert);
    }
    target.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }

  function runTest(form, body, button) {
    setBusy(button, true);
    // form.action would be the button named "action" (DOM named properties): read the attribute.
    fetch(form.getAttribute("action") || window.location.href, {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === -1) {
          throw new Error("Connection unavailable: the server answered HTTP " + response.status + ". Try again.");
        }
        return response.json();
      })
      .then(function (data) {
        clearFieldErrors(form);
        if (data.errors) {
          showMessage("", "Correct the highlighted fields, then TEST again.");
          showFieldErrors(form, data.errors);
        } else {
          showMessage(data.html, data.message);
        }
      })
      .catch(function (error) {
        var text = error && error.message && error.message.indexOf("Connection unavailable") === 0
          ? error.message
          : "Connection unavailable: the TEST request did not reach the server. Check your network and try again.";
        showMessage("", text);
      })
      .finally(function () { setBusy(button, false); });
  }

  var form = document.querySelector("[data-test-form]");
  if (form) {
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.value === "test") {
        event.preventDefault();
        if (submitter.disabled) return;
        var body = new FormData(form);
        body.set("action", "test");
        runTest(form, body, submitter);
        return;
      }
      // CREATE/SAVE: one click is enough; a second would only re-post the same form.
      if (form.dataset.submitted === "true") {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "true";
      if (submitter) {
        window.setTimeout(function () { submitter.disabled = true; }, 0);
      }
    });
  }

  var saved = document.querySelector("[data-saved-test]");
  if (saved) {
    saved.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = saved.querySelector("[data-test-button]");
      if (button.disabled) return;
      runTest(saved, new FormData(saved), button);
    });
  }

  // Show the certificate fields or the Client Secret, by the chosen Credential.
  var choices = document.querySelectorAll('input[name="credential_type"]');
  function syncCredential() {
    var checked = document.querySelector('input[name="credential_type"]:checked');
    var certificate = checked && checked.value === "certificate";
    var certFields = document.getElementById("certificate-fields");
    var secretFields = document.getElementById("secret-fields");
    if (certFields) certFields.hidden = !certificate;
    if (secretFields) secretFields.hidden = certificate;
  }
  choices.forEach(function (choice) { choice.addEventListener("change", syncCredential); });
  if (choices.length) syncCredential();
})();
