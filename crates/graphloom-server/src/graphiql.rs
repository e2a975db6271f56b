//! GraphiQL served by the service itself: the page at the GraphQL endpoint
//! (for browsers) and its assets under `graphiql/<version>/`, embedded in the
//! binary, so it works offline and loads nothing from a CDN.
//!
//! The assets are GraphiQL 3's UMD bundle and React 18's production UMD
//! builds, pinned and checked against npm's integrity hashes by
//! `scripts/vendor-graphiql.sh`, stored gzipped (1 MiB in all) and sent as
//! they are to clients that accept gzip (every browser). The page has a
//! Content-Security-Policy that allows nothing but this origin, so the
//! scripts it runs are these.

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// The path of the assets, beside the endpoint; the version in it lets
/// browsers keep them forever.
pub(crate) const ASSETS: &str = "/graphiql/3.8.3-18.3.1/{file}";

/// `(name, media type, gzipped bytes)`.
const FILES: [(&str, &str, &[u8]); 5] = [
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.js.gz"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.css.gz"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react.production.min.js.gz"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react-dom.production.min.js.gz"),
    ),
    // Ours, not gzipped: a few lines.
    ("init.js", "text/javascript; charset=utf-8", INIT.as_bytes()),
];

/// Starts GraphiQL against the page's own URL (the endpoint): a file, not
/// an inline script, so the policy can forbid inline scripts.
const INIT: &str = r##"(function () {
  var url = window.location.pathname;
  var base = GraphiQL.createFetcher({ url: url });
  // Subscriptions run over Server-Sent Events (graphql-sse): GraphiQL shows
  // each event as it comes.
  // From the text sent (GraphiQL's parsed document can lag the editor):
  // the type of the operation named, or of the first one.
  function isSubscription(params) {
    var text = (params.query || "").replace(/"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*/g, " ");
    var name = params.operationName;
    var re = /[{}]|\b(query|mutation|subscription|fragment)\b(?:\s+([_A-Za-z][_0-9A-Za-z]*))?/g;
    var depth = 0, fragment = false, m;
    while ((m = re.exec(text))) {
      if (m[0] === "{") {
        if (depth === 0 && !fragment && !name) return false;
        fragment = false;
        depth++;
      } else if (m[0] === "}") {
        depth--;
      } else if (depth === 0) {
        if (m[1] === "fragment") fragment = true;
        else if (!name || m[2] === name) return m[1] === "subscription";
      }
    }
    return false;
  }
  async function* events(params, opts) {
    var headers = Object.assign({}, (opts && opts.headers) || {}, {
      "content-type": "application/json",
      accept: "text/event-stream"
    });
    var res = await fetch(url, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(params),
      credentials: "same-origin"
    });
    if (!(res.headers.get("content-type") || "").startsWith("text/event-stream")) {
      yield await res.json();
      return;
    }
    var reader = res.body.getReader();
    var decoder = new TextDecoder();
    var buf = "";
    try {
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) return;
        buf += decoder.decode(chunk.value, { stream: true });
        var end;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          var block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          var event = /^event: (.*)$/m.exec(block);
          if (event && event[1] === "complete") return;
          var data = block.split("\n").filter(function (l) { return l.startsWith("data:"); })
            .map(function (l) { return l.slice(5).trim(); }).join("");
          if (event && event[1] === "next" && data) yield JSON.parse(data);
        }
      }
    } finally {
      reader.cancel();
    }
  }
  var fetcher = function (params, opts) {
    return isSubscription(params) ? events(params, opts) : base(params, opts);
  };
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery: "# Welcome to GraphiQL, served by graphloom.\n# Run a query with Ctrl-Enter.\n\n{\n  __typename\n}\n"
    })
  );
})();
"##;

/// The page; asset paths are relative, so it works wherever the router is
/// nested.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>GraphiQL</title>
    <link rel="stylesheet" href="graphiql/3.8.3-18.3.1/graphiql.min.css" />
    <style>body { margin: 0; } #graphiql { height: 100vh; }</style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script src="graphiql/3.8.3-18.3.1/react.production.min.js"></script>
    <script src="graphiql/3.8.3-18.3.1/react-dom.production.min.js"></script>
    <script src="graphiql/3.8.3-18.3.1/graphiql.min.js"></script>
    <script src="graphiql/3.8.3-18.3.1/init.js"></script>
  </body>
</html>
"#;

/// Only this origin; styles may be inline (CodeMirror sets style
/// attributes, GraphiQL injects its theme), and the fonts are data URLs
/// inside the stylesheet.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

pub(crate) fn page() -> Response {
    html(PAGE, POLICY)
}

/// A page of ours: HTML under its Content-Security-Policy.
pub(crate) fn html(page: &'static str, policy: &'static str) -> Response {
    let mut res = (StatusCode::OK, page).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

pub(crate) async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, media, bytes)) = FILES.iter().find(|(name, ..)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let gzipped = file != "init.js";
    if gzipped && !accepts_gzip(&headers) {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "GraphiQL's assets are served gzip-encoded; send Accept-Encoding: gzip",
        )
            .into_response();
    }
    let mut res = (StatusCode::OK, *bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if gzipped {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

/// Whether `Accept-Encoding` takes gzip (not at `q=0`).
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        assert!(accepts_gzip(&with("gzip, deflate, br")));
        assert!(accepts_gzip(&with("br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(&with("*")));
        assert!(!accepts_gzip(&with("gzip;q=0")));
        assert!(!accepts_gzip(&with("br")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn every_asset_the_page_names_is_served() {
        for src in PAGE.split('"').filter(|s| s.starts_with("graphiql/")) {
            let file = src.rsplit('/').next().unwrap();
            assert!(FILES.iter().any(|(n, ..)| *n == file), "{src}");
            assert!(
                src.starts_with(&ASSETS[1..ASSETS.len() - "{file}".len()]),
                "{src}"
            );
        }
        // And they are gzip streams.
        for (name, _, bytes) in &FILES[..4] {
            assert_eq!(&bytes[..2], &[0x1f, 0x8b], "{name}");
        }
    }
}
