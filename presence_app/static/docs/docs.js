// Swagger UI over this service's own OpenAPI document; a file, as the page's CSP allows no inline script.
window.ui = SwaggerUIBundle({
  url: new URL(window.location.pathname.replace(/\/docs\/?$/, "/openapi.json"), window.location.href).href,
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  validatorUrl: null,
});
