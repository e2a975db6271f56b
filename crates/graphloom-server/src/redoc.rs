//! The REST API's documentation page at `/api/docs`: Redoc rendering
//! `/api/openapi.json`, its bundle embedded in the binary (vendored and
//! checked by `scripts/vendor-redoc.sh`, stored gzipped), so it works
//! offline and loads nothing from a CDN. Served where GraphiQL is (the
//! browser tools setting) and while the document is (introspection on).

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::graphiql::{accepts_gzip, html};

/// The bundle's path; the version in it lets browsers keep it forever.
pub(crate) const ASSETS: &str = "/api/docs/redoc-2.5.4.standalone.js";

const BUNDLE: &[u8] = include_bytes!("../assets/redoc/redoc.standalone.js.gz");

/// Redoc starts on the `<redoc>` element by itself: no inline script.
/// Paths are relative to `/api/docs`.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>REST API</title>
  </head>
  <body>
    <redoc spec-url="openapi.json"></redoc>
    <script src="docs/redoc-2.5.4.standalone.js"></script>
  </body>
</html>
"#;

/// Only this origin. Redoc injects its styles (styled-components) and runs
/// its search index in a worker made from a blob; the one image it links
/// to elsewhere (its logo) is refused and it hides it.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(crate) async fn page() -> Response {
    html(PAGE, POLICY)
}

pub(crate) async fn asset(headers: HeaderMap) -> Response {
    if !accepts_gzip(&headers) {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "Redoc is served gzip-encoded; send Accept-Encoding: gzip",
        )
            .into_response();
    }
    let mut res = (StatusCode::OK, BUNDLE).into_response();
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_ENCODING, "gzip"),
        (header::VARY, "accept-encoding"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_served_bundle() {
        assert!(PAGE.contains(&format!("src=\"{}\"", &ASSETS["/api/".len()..])));
        assert_eq!(&BUNDLE[..2], &[0x1f, 0x8b], "a gzip stream");
    }
}
