//! zhulao-web: the web console (the Vite build in `web/dist`) served by the binary.
//!
//! `with_console(api, not_found)` puts the console behind an API router: any path the API
//! does not route is a console file if one exists, else `index.html` (the console's own
//! router takes over in the browser). Paths under `/api/` never fall through to the console:
//! they keep the API's JSON 404.
//!
//! Invariants: API routes always take precedence; content types follow file extensions;
//! hashed assets (`/assets/…`) are cached for a year, `index.html` never; a binary built
//! before `npm run build` serves a page that says how to build the console instead of
//! failing (`cargo build` works without Node).

use std::borrow::Cow;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// The built console: release builds embed it, debug builds read it from disk.
#[derive(rust_embed::Embed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct Dist;

/// A source of console files (the embedded build, or a fixed set in tests).
pub trait Assets: Send + Sync + 'static {
    /// The file at `path` (no leading slash) and its content type.
    fn get(&self, path: &str) -> Option<(Cow<'static, [u8]>, String)>;
}

/// The console built into this binary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Embedded;

impl Assets for Embedded {
    fn get(&self, path: &str) -> Option<(Cow<'static, [u8]>, String)> {
        Dist::get(path).map(|f| (f.data, f.metadata.mimetype().to_string()))
    }
}

/// Shown when the binary was built without the console.
const NOT_BUILT: &str = "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>助老 zhulao</title>\
<body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>控制台尚未构建</h1>\
<p>这个 zhulao 程序构建时还没有 web 控制台。请用 <code>scripts/demo</code> 启动演示，或先在 <code>web/</code> 中运行 \
<code>npm ci &amp;&amp; npm run build</code> 再构建 zhulao。API 照常可用：<a href=\"/api/openapi.json\">/api/openapi.json</a>。</p>\
<p lang=\"en\">The web console was not built into this binary. Start the demo with <code>scripts/demo</code>, or run \
<code>npm ci &amp;&amp; npm run build</code> in <code>web/</code> before building zhulao. The API works as usual.</p></body></html>";

/// The API router with the console as its fallback; `not_found` answers unrouted API paths.
pub fn with_console(api: Router, not_found: fn() -> Response) -> Router {
    with_assets(api, Embedded, not_found)
}

/// [`with_console`] over any [`Assets`] (tests use a fixed set).
pub fn with_assets<A: Assets>(api: Router, assets: A, not_found: fn() -> Response) -> Router {
    let assets = std::sync::Arc::new(assets);
    api.fallback(move |method: Method, uri: Uri| {
        let assets = assets.clone();
        async move { serve(&*assets, &method, &uri).unwrap_or_else(not_found) }
    })
}

/// The console's answer for a path the API did not route; `None` for API paths.
fn serve(assets: &dyn Assets, method: &Method, uri: &Uri) -> Option<Response> {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return None;
    }
    if method != Method::GET && method != Method::HEAD {
        return Some(StatusCode::METHOD_NOT_ALLOWED.into_response());
    }
    let file = path.trim_start_matches('/');
    if !file.is_empty()
        && let Some((body, mime)) = assets.get(file)
    {
        let cache =
            if file.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
        return Some(respond(body, &mime, cache));
    }
    // A missing file with an extension is a 404; anything else is a console route.
    let last = file.rsplit('/').next().unwrap_or("");
    if last.contains('.') {
        return Some((StatusCode::NOT_FOUND, "not found").into_response());
    }
    Some(match assets.get("index.html") {
        Some((body, _)) => respond(body, "text/html; charset=utf-8", "no-cache"),
        None => respond(Cow::Borrowed(NOT_BUILT.as_bytes()), "text/html; charset=utf-8", "no-cache"),
    })
}

fn respond(body: Cow<'static, [u8]>, mime: &str, cache: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    let ct = if mime.starts_with("text/") && !mime.contains("charset") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&ct) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}
