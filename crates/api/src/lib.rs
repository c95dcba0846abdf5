//! zhulao-api: the HTTP API under `/api/v1`, its OpenAPI 3.1 document, health checks, and
//! the access policy applied to every request.
//!
//! Layout: `resources/` holds the handlers, one file per resource, each with its `routes()`;
//! `access` owns every scope rule (who may see and do what); `auth` signs in and turns a
//! token into a viewer; `error` is the one error shape and the conversions into it;
//! `extract` reads requests; `views` is what leaves, masked; `openapi` lists the handlers.
//!
//! Invariants: every handler authorises before it reads or writes; personal data leaves
//! only through the masked views; errors have one JSON shape; bad input is a 4xx and writes
//! nothing. `app(state)` builds the router without a socket, so tests call it directly.

mod access;
pub mod auth;
pub mod error;
pub mod extract;
mod openapi;
mod resources;
pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::routing::get;
use chrono::NaiveDate;
use zhulao_store::Store;

pub use openapi::openapi_json;

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub limiter: Arc<auth::LoginLimiter>,
    /// The emergency response service: alarms, steps, timers, live feed.
    pub response: Arc<zhulao_response::Response>,
    /// The home-care service layer: orders, dispatch, settlement, meals, the time bank.
    pub orders: Arc<zhulao_orders::Orders>,
    /// Live feeds open now, per account (bounded: [`resources::live`]).
    pub(crate) streams: Arc<resources::live::Streams>,
    /// Renders `/metrics` (the gateway's counters), when a gateway runs.
    pub metrics: Option<MetricsRender>,
}

/// Produces the Prometheus exposition text.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("response", &self.response)
            .field("orders", &self.orders)
            .finish_non_exhaustive()
    }
}

/// Notifies nobody: for tools and tests that run the API without channels.
#[derive(Debug)]
struct NoChannels;

#[async_trait::async_trait]
impl zhulao_response::Notifier for NoChannels {
    async fn notify(
        &self,
        _n: &zhulao_response::OutgoingNotification,
    ) -> Vec<zhulao_store::NotificationRecord> {
        Vec::new()
    }
}

impl AppState {
    /// An API over `store` with a response service that notifies nobody.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let response = zhulao_response::Response::new(
            store.clone(),
            zhulao_response::Policies::default(),
            Arc::new(NoChannels),
            zhulao_response::LiveHub::default(),
        );
        Self::with(store, response, None)
    }

    /// An API over `store` and `response`, with a home-care service of default settings
    /// sharing the response service's live feed.
    pub fn with(
        store: Arc<dyn Store>,
        response: Arc<zhulao_response::Response>,
        metrics: Option<MetricsRender>,
    ) -> Self {
        let orders = zhulao_orders::Orders::new(
            store.clone(),
            zhulao_orders::ServicesConfig::default(),
            response.hub().clone(),
        );
        AppState {
            store,
            limiter: Arc::new(auth::LoginLimiter::default()),
            response,
            orders,
            metrics,
            streams: Arc::default(),
        }
    }

    /// Replaces the home-care service (its configuration, or its clock in tests).
    pub fn with_orders(mut self, orders: Arc<zhulao_orders::Orders>) -> Self {
        self.orders = orders;
        self
    }

    /// Today by the store's clock.
    pub(crate) fn today(&self) -> NaiveDate {
        self.store.clock().today()
    }
}

/// The whole HTTP application: the operational endpoints, the OpenAPI document and
/// `/api/v1` (uploads up to the ledger's limit); anything else is 404 `not_found`.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .merge(resources::health::routes())
        .route(
            "/api/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], openapi_json()) }),
        )
        .nest("/api/v1", resources::v1().layer(DefaultBodyLimit::max(extract::MAX_UPLOAD)))
        .fallback(|| async { error::ApiError::NotFound("route") })
        .with_state(state);
    with_security_headers(router)
}

/// Security headers on every response of `router` (call it again after adding routes or a
/// fallback, e.g. the web console): no MIME sniffing, no referrer, no framing, and a content
/// security policy that lets the console load only its own scripts, styles and connections.
pub fn with_security_headers(router: Router) -> Router {
    router.layer(axum::middleware::map_response(|mut r: axum::response::Response| async move {
        let h = r.headers_mut();
        h.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
        h.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
        h.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
                 font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
                 frame-ancestors 'none'; form-action 'self'",
            ),
        );
        r
    }))
}

/// The API's answer to a path it does not route (404 `not_found`, the one JSON error shape),
/// for a fallback placed in front of it (the web console).
pub fn route_not_found() -> axum::response::Response {
    axum::response::IntoResponse::into_response(error::ApiError::NotFound("route"))
}
