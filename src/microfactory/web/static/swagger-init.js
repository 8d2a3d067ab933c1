// Swagger UI over the local OpenAPI schema (no CDN).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor: function (req) {
      var m = document.cookie.match(/(?:^|; )mf_csrf=([^;]+)/);
      if (m) { req.headers["X-CSRF-Token"] = decodeURIComponent(m[1]); }
      return req;
    },
  });
});
