//! The console behind the API: API routes first, then files with their content types, then
//! the SPA fallback to `index.html`; API paths keep their JSON 404.

use std::borrow::Cow;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt;
use tower::ServiceExt;
use zhulao_web::{Assets, with_assets};

struct Fixed;

impl Assets for Fixed {
    fn get(&self, path: &str) -> Option<(Cow<'static, [u8]>, String)> {
        let (body, mime): (&'static str, &str) = match path {
            "index.html" => ("<html>console</html>", "text/html"),
            "assets/app-1a2b.js" => ("console.log(1)", "text/javascript"),
            "assets/app-1a2b.css" => ("body{}", "text/css"),
            "pingcheng.json" => ("{}", "application/json"),
            _ => return None,
        };
        Some((Cow::Borrowed(body.as_bytes()), mime.to_string()))
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], "{\"code\":\"not_found\"}")
        .into_response()
}

fn app() -> Router {
    let api =
        Router::new().route("/api/v1/me", get(|| async { "me" })).route("/healthz", get(|| async { "ok" }));
    with_assets(api, Fixed, not_found)
}

async fn get_path(method: Method, path: &str) -> (StatusCode, String, String, String) {
    let req = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
    let resp = app().oneshot(req).await.unwrap();
    let status = resp.status();
    let h = |k| resp.headers().get(k).map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_string());
    let (ct, cache) =
        (h(header::CONTENT_TYPE).unwrap_or_default(), h(header::CACHE_CONTROL).unwrap_or_default());
    let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (status, ct, cache, body)
}

#[tokio::test]
async fn api_routes_take_precedence() {
    assert_eq!(get_path(Method::GET, "/api/v1/me").await.3, "me");
    assert_eq!(get_path(Method::GET, "/healthz").await.3, "ok");
    let (s, ct, _, body) = get_path(Method::GET, "/api/v1/nothing").await;
    assert_eq!(
        (s, ct.as_str(), body.as_str()),
        (StatusCode::NOT_FOUND, "application/json", "{\"code\":\"not_found\"}")
    );
    assert_eq!(get_path(Method::POST, "/api/v1/nothing").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn files_have_their_content_types_and_caching() {
    let (s, ct, cache, body) = get_path(Method::GET, "/assets/app-1a2b.js").await;
    assert_eq!(
        (s, ct.as_str(), body.as_str()),
        (StatusCode::OK, "text/javascript; charset=utf-8", "console.log(1)")
    );
    assert!(cache.contains("immutable"), "{cache}");
    assert_eq!(get_path(Method::GET, "/assets/app-1a2b.css").await.1, "text/css; charset=utf-8");
    let (_, ct, cache, _) = get_path(Method::GET, "/pingcheng.json").await;
    assert_eq!((ct.as_str(), cache.as_str()), ("application/json", "no-cache"));
    assert_eq!(get_path(Method::GET, "/assets/gone-9999.js").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn console_routes_fall_back_to_index() {
    for path in ["/", "/bigscreen", "/console/alarms/12", "/registry/elders?q=李"] {
        let (s, ct, cache, body) = get_path(Method::GET, path).await;
        assert_eq!(
            (s, ct.as_str(), cache.as_str(), body.as_str()),
            (StatusCode::OK, "text/html; charset=utf-8", "no-cache", "<html>console</html>"),
            "{path}"
        );
    }
    assert_eq!(get_path(Method::POST, "/bigscreen").await.0, StatusCode::METHOD_NOT_ALLOWED);
}
