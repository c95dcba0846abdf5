//! Accounts and sessions: sign-in and sign-out, the signed-in account (`/me`, its
//! password), and the account list staff manage.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use zhulao_domain::{Account, AccountInput, Action, FieldError, Role};
use zhulao_store::AccountFilter;

use crate::AppState;
use crate::access::{Reach, account_reach};
use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Paging, opt};
use crate::views::{ActiveFlag, PageView};

/// The largest body `/auth/login` and `/me/password` accept.
const AUTH_BODY_LIMIT: usize = 4096;

pub(crate) fn routes() -> Router<AppState> {
    // Sign-in and password changes take a few hundred bytes: a big body is refused before it
    // is read (an unknown username still costs a password hash).
    let credentials = Router::new()
        .route("/auth/login", post(login))
        .route("/me/password", post(change_password))
        .layer(axum::extract::DefaultBodyLimit::max(AUTH_BODY_LIMIT));
    Router::new()
        .merge(credentials)
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
        .route("/accounts", get(list_accounts).post(create_account))
        .route("/accounts/{id}/active", post(set_account_active))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: i64,
    pub account: Account,
}

/// A hash to verify against when the username is unknown, so that the response time does not
/// reveal which usernames exist.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| auth::hash_password("zhulao-dummy"));

#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let now = state.store.clock().now_ms();
    let username = req.username.trim().to_ascii_lowercase();
    if username.is_empty() || username.len() > 64 || req.password.len() > 256 {
        return Err(ApiError::Unauthenticated);
    }
    let keys = [format!("user:{username}")];
    state.limiter.check(&keys, now)?;
    let found = state.store.credentials(&username).await?;
    let hash = found.as_ref().map_or_else(|| DUMMY_HASH.clone(), |(_, h)| h.clone());
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash)).await?;
    let account = match found {
        Some((account, _)) if ok && account.active => account,
        _ => {
            state.limiter.fail(&keys, now);
            return Err(ApiError::Unauthenticated);
        }
    };
    state.limiter.succeed(&keys);
    let (token, token_hash) = auth::new_token();
    let expires_at = now + auth::SESSION_MS;
    state.store.create_session(&token_hash, account.id, expires_at).await?;
    Ok(Json(LoginResponse { token, expires_at, account }))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", responses((status = 204)))]
pub async fn logout(State(state): State<AppState>, user: CurrentUser) -> ApiResult<StatusCode> {
    state.store.delete_session(&user.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = Account)))]
pub async fn me(user: CurrentUser) -> Json<Account> {
    Json(user.account)
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub old_password: String,
    pub new_password: String,
}

#[utoipa::path(post, path = "/api/v1/me/password", request_body = PasswordChange, responses((status = 204)))]
pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let new = zhulao_domain::account::check_password(&req.new_password)?;
    let (_, hash) =
        state.store.credentials(&user.account.username).await?.ok_or(ApiError::Unauthenticated)?;
    let old = req.old_password;
    let new_hash = tokio::task::spawn_blocking(move || {
        auth::verify_password(&old, &hash).then(|| auth::hash_password(&new))
    })
    .await?
    .ok_or_else(|| {
        ApiError::field(FieldError::new(
            "old_password",
            "wrong_password",
            "原密码错误",
            "the old password is wrong",
        ))
    })?;
    state.store.set_password(user.account.id, &new_hash, user.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct AccountQuery {
    pub role: Option<String>,
    pub active: Option<bool>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/accounts", params(AccountQuery), responses((status = 200, body = PageView<Account>)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AccountQuery>,
) -> ApiResult<Json<PageView<Account>>> {
    user.require(Action::ReadAccounts)?;
    let (offset, limit) = Paging { page: q.page, per_page: q.per_page }.bounds();
    let v = user.viewer();
    let mut f = AccountFilter {
        role: opt("role", &q.role, Role::parse_field)?,
        active: q.active,
        offset,
        limit,
        ..Default::default()
    };
    match account_reach(&v) {
        Reach::Facility(id) => f.facility_id = Some(id),
        Reach::Region(prefix) => f.region_prefix = prefix,
        Reach::All | Reach::OneElder => {}
    }
    Ok(Json(PageView::from_store(state.store.list_accounts(&f).await?, |a| a)))
}

#[utoipa::path(post, path = "/api/v1/accounts", request_body = AccountInput, responses((status = 201, body = Account), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_account(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<AccountInput>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    user.require(Action::ManageAccounts)?;
    let (account, password) = input.validate()?;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password)).await?;
    Ok((StatusCode::CREATED, Json(state.store.create_account(&account, &hash, user.actor()).await?)))
}

#[utoipa::path(post, path = "/api/v1/accounts/{id}/active", request_body = ActiveFlag, responses((status = 200, body = Account)))]
pub async fn set_account_active(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(flag): ApiJson<ActiveFlag>,
) -> ApiResult<Json<Account>> {
    user.require(Action::ManageAccounts)?;
    Ok(Json(state.store.set_account_active(id, flag.active, user.actor()).await?))
}
