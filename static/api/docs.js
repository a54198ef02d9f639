"use strict";
// Swagger UI for /api/v1/ (templates/api/docs.html): the schema's URL and the CSRF token come from the page's
// data attributes, so that no inline script is needed (the Content Security Policy forbids it). "Try it out"
// uses the browser's session; its unsafe requests carry the CSRF token, as the pages' forms do.
(function () {
  const root = document.getElementById("swagger-ui");
  const csrfToken = root.dataset.csrfToken;
  window.ui = SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    deepLinking: true,
    requestInterceptor: function (request) {
      if (!["GET", "HEAD", undefined].includes(request.method)) {
        request.headers["X-CSRFToken"] = csrfToken;
      }
      return request;
    },
  });
})();
