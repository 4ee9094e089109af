// Swagger UI for /openapi.json, from the package's own copy (no CDN; the page's policy allows
// scripts from this origin only, so this cannot be an inline script).
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
