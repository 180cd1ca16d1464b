// Starts Swagger UI on /api/docs with this server's OpenAPI document. A file
// rather than an inline script: the Content-Security-Policy allows scripts
// from this site only. scripts/build.sh copies it beside Swagger UI's files.
window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/api/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    // No calls to validator.swagger.io: the page works with no internet.
    validatorUrl: null,
  });
});
