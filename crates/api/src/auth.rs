//! Sign-in: argon2 password hashes, opaque session tokens (only their SHA-256 is stored),
//! a failed-attempt limiter, and the extractor that turns a bearer token into a viewer.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use zhulao_domain::{Account, Viewer};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Sessions last a working shift and a half.
pub const SESSION_MS: i64 = 12 * 3600 * 1000;
/// Failed sign-ins allowed per username within the window.
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters")
        .to_string()
}

/// Verifies a password against a PHC string; a malformed hash never verifies.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A new random session token (256 bits, hex) and the hash stored for it.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = hex(&bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts failed sign-ins per key (the username) in a sliding window. In-process:
/// with several instances each limits on its own, which still bounds guessing per instance.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

impl LoginLimiter {
    /// `Err` with the seconds to wait if any key is locked.
    pub fn check(&self, keys: &[String], now: i64) -> ApiResult<()> {
        let mut map = self.failures.lock().expect("limiter lock");
        for key in keys {
            if let Some(times) = map.get_mut(key) {
                times.retain(|t| now - t < FAILURE_WINDOW_MS);
                if times.len() >= MAX_FAILURES {
                    let retry_after_s = (times[0] + FAILURE_WINDOW_MS - now).max(1000) / 1000;
                    return Err(ApiError::TooManyAttempts { retry_after_s });
                }
            }
        }
        Ok(())
    }

    pub fn fail(&self, keys: &[String], now: i64) {
        let mut map = self.failures.lock().expect("limiter lock");
        if map.len() > 100_000 {
            // Bounded memory under a spray of usernames: forget the stale ones.
            map.retain(|_, t| t.last().is_some_and(|last| now - last < FAILURE_WINDOW_MS));
        }
        for key in keys {
            map.entry(key.clone()).or_default().push(now);
        }
    }

    pub fn succeed(&self, keys: &[String]) {
        let mut map = self.failures.lock().expect("limiter lock");
        for key in keys {
            map.remove(key);
        }
    }
}

/// The signed-in account behind the request's bearer token (or `zhulao_session` cookie).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub account: Account,
    pub token_hash: String,
}

impl CurrentUser {
    pub fn viewer(&self) -> Viewer {
        Viewer {
            account_id: self.account.id,
            role: self.account.role,
            region: self.account.region.clone(),
            facility_id: self.account.facility_id,
        }
    }

    pub fn actor(&self) -> zhulao_store::Actor {
        zhulao_store::Actor::account(self.account.id)
    }

    /// `Forbidden` unless the role may perform `action`.
    pub fn require(&self, action: zhulao_domain::Action) -> ApiResult<()> {
        if zhulao_domain::policy::allows(self.account.role, action) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let headers = &parts.headers;
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    headers.get(axum::http::header::COOKIE).and_then(|v| v.to_str().ok()).and_then(|c| {
        c.split(';').find_map(|kv| kv.trim().strip_prefix("zhulao_session=")).map(str::to_string)
    })
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token =
            bearer(parts).filter(|t| !t.is_empty() && t.len() <= 128).ok_or(ApiError::Unauthenticated)?;
        let token_hash = token_hash(&token);
        let account = state.store.session_account(&token_hash).await?.ok_or(ApiError::Unauthenticated)?;
        Ok(CurrentUser { account, token_hash })
    }
}
