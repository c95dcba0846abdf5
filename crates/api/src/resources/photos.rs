//! Photos of a service: the caregiver holding an order uploads them one by one (or with
//! the check-out, see `orders`); whoever may see the order may see them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use zhulao_domain::{Action, FieldError};

use crate::AppState;
use crate::access::visible_order;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, check_photo};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders/{id}/photos", post(upload_photo))
        .route("/orders/{id}/photos/{reference}", get(get_photo))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhotoUploaded {
    /// Pass it in `photos` when checking out.
    pub reference: String,
    pub content_type: String,
    pub size_bytes: i64,
}

/// Uploads one photo of the service (the raw image as the body, `Content-Type` image/jpeg,
/// image/png or image/webp, at most 5 MB), by the caregiver who holds the order.
#[utoipa::path(post, path = "/api/v1/orders/{id}/photos", request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, body = PhotoUploaded), (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn upload_photo(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<PhotoUploaded>)> {
    user.require(Action::ServeOrders)?;
    let row = visible_order(&state, &user, id).await?;
    if !row.order.may_see_contact(user.account.id) {
        return Err(ApiError::Conflict(FieldError::new(
            "order",
            "order_not_holder",
            "您不是该订单的服务人员",
            "you do not hold this order",
        )));
    }
    let declared = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let photo = check_photo(declared, &body, "photo")?;
    let meta = state.store.add_order_photo(id, &photo, user.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(PhotoUploaded {
            reference: meta.reference,
            content_type: meta.content_type,
            size_bytes: meta.size_bytes,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}/photos/{reference}", responses((status = 200, content_type = "image/jpeg")))]
pub async fn get_photo(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, reference)): ApiPath<(i64, String)>,
) -> ApiResult<Response> {
    visible_order(&state, &user, id).await?;
    let (meta, bytes) = state.store.order_photo(id, &reference).await?;
    Ok((
        [(header::CONTENT_TYPE, meta.content_type), (header::CACHE_CONTROL, "private, max-age=86400".into())],
        bytes,
    )
        .into_response())
}
