//! zhulao-api: the HTTP API under `/api/v1`, its OpenAPI 3.1 document, health checks, and
//! the access policy applied to every request.
//!
//! Invariants: every handler authorises before it reads or writes; personal data leaves
//! only through the masked views; errors have one JSON shape; bad input is a 4xx and writes
//! nothing. `app(state)` builds the router without a socket, so tests call it directly.

pub mod auth;
pub mod error;
pub mod extract;
mod openapi;
mod routes;
pub mod views;

use std::sync::Arc;

use axum::Router;
use zhulao_store::Store;

pub use openapi::openapi_json;

/// Shared state of all handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub limiter: Arc<auth::LoginLimiter>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState { store, limiter: Arc::new(auth::LoginLimiter::default()) }
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}
