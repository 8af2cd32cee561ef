// Swagger UI on this server's OpenAPI document. Everything comes from this origin:
// no validator badge (it would call validator.swagger.io), no external fonts.
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  validatorUrl: null,
});
