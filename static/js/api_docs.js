// The /docs page: Swagger UI (vendored in static/vendor/) on the server's own
// OpenAPI schema. An external script, since the page's Content-Security-Policy
// runs no inline script; loaded with `defer` after the bundle, so SwaggerUIBundle exists.
const url = document.currentScript?.dataset.openapiUrl || "/openapi.json";
window.ui = window.SwaggerUIBundle({ url, dom_id: "#swagger-ui", deepLinking: true });
