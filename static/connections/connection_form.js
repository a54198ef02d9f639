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
      .then(readJson)
      .then(function (data) {
        clearFieldErrors(form);
        if (data.errors) {
          showMessage("", "Correct the highlighted fields, then TEST again.");
          showFieldErrors(form, data.errors);
          return null;
        }
        return follow(data);
      })
      .catch(function (error) {
        showMessage("", unavailable(error, "the TEST request did not reach the server"));
      })
      .finally(function () { setBusy(button, false); });
  }

  function unavailable(error, what) {
    return error && error.message && error.message.indexOf("Connection unavailable") === 0
      ? error.message
      : "Connection unavailable: " + what + ". Check your network and try again.";
  }

  function readJson(response) {
    var type = response.headers.get("Content-Type") || "";
    if (type.indexOf("application/json") === -1) {
      throw new Error("Connection unavailable: the server answered HTTP " + response.status + ". Try again.");
    }
    return response.json();
  }

  // The TEST runs on a worker: show its steps as they finish, asking again quickly at first, then less often.
  function follow(data) {
    showMessage(data.html, data.message);
    if (data.done || !data.status_url) {
      var lastTest = document.getElementById("last-test");
      if (lastTest && data.last_test_html) lastTest.innerHTML = data.last_test_html;
      var health = document.getElementById("health");
      if (health && data.health_html) health.innerHTML = data.health_html;
      var historyCards = document.getElementById("history");
      if (historyCards && data.history_html) historyCards.innerHTML = data.history_html;
      var scheduleCard = document.getElementById("schedule");
      if (scheduleCard && data.schedule_html) scheduleCard.innerHTML = data.schedule_html;
      var accessCard = document.getElementById("access");
      if (accessCard && data.access_html) accessCard.innerHTML = data.access_html;
      var credentials = document.getElementById("credentials");
      if (credentials && data.credentials_html) credentials.innerHTML = data.credentials_html;
      return null;
    }
    // A warm TEST is done in about one Dataverse round trip: ask 20 ms after each answer for its first 0.3 s (a
    // status read takes about 6 ms), every 50 ms up to a second, then less and less often (at most once a second).
    var wait = 20, asked = 0;
    return new Promise(function (resolve, reject) {
      function ask() {
        asked += 1;
        fetch(data.status_url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(readJson)
          .then(function (now) {
            if (now.done) { resolve(follow(now)); return; }
            document.getElementById("test-result").innerHTML = now.html;
            if (asked === 12) wait = 50;
            else if (asked >= 26) wait = Math.min(wait * 1.5, 1000);
            window.setTimeout(ask, wait);
          })
          .catch(function (error) { reject(new Error(unavailable(error, "the TEST's progress could not be read"))); });
      }
      window.setTimeout(ask, wait);
    });
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

  // TEST of the saved connection, and of its new credential (the Credentials panel, redrawn after each TEST: the
  // listener is on the document, so a redrawn form needs none of its own).
  document.addEventListener("submit", function (event) {
    var saved = event.target.closest("[data-saved-test]");
    if (!saved) return;
    event.preventDefault();
    var button = saved.querySelector("[data-test-button]");
    if (button.disabled) return;
    runTest(saved, new FormData(saved), button);
  });
})();

// Show the fields the chosen CRM Version, Auth Scheme and Credential use; hide the rest (the server ignores them).
(function () {
  "use strict";
  var ON_PREMISES_SCHEMES = ["NTLM", "ADFS"];
  var version = document.querySelector('select[name="crm_version"]');
  var url = document.querySelector('input[name="url"]');
  var schemes = document.querySelectorAll('input[name="auth_scheme"]');
  var credentials = document.querySelectorAll('input[name="credential_type"]');
  if (!version && !credentials.length) return;
  var onlinePlaceholder = url ? url.getAttribute("placeholder") : "";

  function checked(name) {
    var input = document.querySelector('input[name="' + name + '"]:checked');
    return input ? input.value : "";
  }

  function show(id, visible) {
    var node = document.getElementById(id);
    if (node) node.hidden = !visible;
  }

  // CRM2011+ offers NTLM and ADFS, CRMOnline the two Entra schemes: keep the choice within the version's.
  function syncSchemes(onPremises) {
    var scheme = checked("auth_scheme");
    schemes.forEach(function (input) {
      var fits = (ON_PREMISES_SCHEMES.indexOf(input.value) !== -1) === onPremises;
      var option = input.closest(".form-check") || input.parentElement;
      option.hidden = !fits;
      if (!fits && input.value === scheme) {
        input.checked = false;
        var first = Array.prototype.find.call(schemes, function (other) {
          return (ON_PREMISES_SCHEMES.indexOf(other.value) !== -1) === onPremises;
        });
        if (first) {
          first.checked = true;
          first.dispatchEvent(new Event("change", { bubbles: true }));
        }
      }
    });
    return checked("auth_scheme");
  }

  function syncWarning(onPremises, scheme) {
    var warning = document.getElementById("url-warning");
    if (!warning || !url) return;
    var plain = url.value.trim().toLowerCase().indexOf("http://") === 0;
    warning.hidden = !(onPremises && plain);
    if (!warning.hidden) warning.textContent = warning.getAttribute(scheme === "NTLM" ? "data-ntlm" : "data-adfs");
  }

  // Federated (no secret) and Managed identity sign in as the app itself: AzureServicePrincipal only.
  function syncCredentials(scheme) {
    var appOnly = scheme !== "AzureAD";
    credentials.forEach(function (input) {
      var secretless = input.value === "federated" || input.value === "managed_identity";
      var option = input.closest(".form-check") || input.parentElement;
      option.hidden = secretless && !appOnly;
      if (option.hidden && input.checked) {
        input.checked = false;
        credentials[0].checked = true;
      }
    });
    return checked("credential_type");
  }

  // The Audience is the chosen Azure Environment's; the CLI command names the typed Client ID.
  function syncFederated() {
    var block = document.getElementById("federated-fields");
    if (!block || !block.hasAttribute("data-audiences")) return;
    var environment = document.querySelector('input[name="azure_environment"]:checked, select[name="azure_environment"]');
    var audience = JSON.parse(block.getAttribute("data-audiences"))[environment ? environment.value : "GLOBAL"];
    var client = document.querySelector('input[name="client_id"]');
    var id = client ? client.value.trim().replace(/^\{|\}$/g, "") : "";
    if (!/^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$/.test(id)) id = "<Client ID>";
    if (audience) document.getElementById("federated-audience").value = audience;
    document.getElementById("federated-command").value = block.getAttribute("data-command")
      .replace("__CLIENT_ID__", id).replace("__AUDIENCE__", audience || "");
  }

  function sync() {
    var onPremises = version && version.value === "CRM2011+";
    var scheme = schemes.length ? syncSchemes(onPremises) : "";
    var credential = onPremises ? "" : syncCredentials(scheme);
    var certificate = credential === "certificate";
    var identity = credential === "managed_identity";
    show("div_id_client_id", scheme !== "NTLM" && !identity);
    show("secret-fields", onPremises ? scheme === "ADFS" : credential === "secret" || credential === "");
    show("div_id_azure_tenant", !onPremises && !identity);
    show("div_id_azure_environment", !onPremises);
    show("div_id_credential_type", !onPremises);
    show("certificate-fields", certificate);
    show("federated-fields", credential === "federated");
    show("managed-identity-fields", identity);
    show("div_id_managed_identity_id", identity && checked("managed_identity_type") !== "system");
    if (credential === "federated") syncFederated();
    show("ntlm-fields", onPremises && scheme === "NTLM");
    show("adfs-fields", onPremises && scheme === "ADFS");
    if (url) url.setAttribute("placeholder", onPremises ? "http://crmserver/Contoso" : onlinePlaceholder);
    syncWarning(onPremises, scheme);
  }

  if (version) version.addEventListener("change", sync);
  if (url) url.addEventListener("input", sync);
  schemes.forEach(function (choice) { choice.addEventListener("change", sync); });
  credentials.forEach(function (choice) { choice.addEventListener("change", sync); });
  document.querySelectorAll('input[name="managed_identity_type"], [name="azure_environment"]').forEach(function (choice) {
    choice.addEventListener("change", sync);
  });
  var clientId = document.querySelector('input[name="client_id"]');
  if (clientId) clientId.addEventListener("input", sync);
  sync();
})();

// AzureAD only: the Callback URL (kept in a <template> until chosen) and its Copy button.
(function () {
  "use strict";
  function copyFrom(button) {
    var field = document.querySelector(button.getAttribute("data-copy-target"));
    if (!field) return;
    var label = button.textContent;
    var done = function () {
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done);
    } else {
      field.select();
      document.execCommand("copy");
      done();
    }
  }

  function syncScheme() {
    var checked = document.querySelector('input[name="auth_scheme"]:checked');
    var delegated = checked && checked.value === "AzureAD";
    var fields = document.getElementById("callback-fields");
    var template = document.getElementById("callback-template");
    var slot = document.getElementById("callback-slot");
    if (delegated && !fields && template && slot) {
      slot.replaceWith(template.content.cloneNode(true));
      fields = document.getElementById("callback-fields");
    }
    if (fields) fields.hidden = !delegated;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (button) copyFrom(button);
  });
  var schemes = document.querySelectorAll('input[name="auth_scheme"]');
  schemes.forEach(function (choice) { choice.addEventListener("change", syncScheme); });
  if (schemes.length) syncScheme();
})();
