//! Complaint cases: listing them (open first, nearest deadline first), reading one, and
//! their steps (accept, resolve, reopen, close, withdraw).

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use zhulao_domain::Action;
use zhulao_services::order::OrderActor;
use zhulao_services::quality::{ComplaintCommand, ComplaintKind, ComplaintState};
use zhulao_store::{ComplaintFilter, ComplaintRow};

use crate::AppState;
use crate::access::{actor, order_scope, visible_complaint};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, WithField};
use crate::extract::{ApiPath, ApiQuery, optional_json};
use crate::views::{PageView, ms};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/complaints", get(list_complaints))
        .route("/complaints/{id}", get(get_complaint))
        .route("/complaints/{id}/{action}", post(complaint_action))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ComplaintView {
    pub id: i64,
    pub version: i64,
    pub state: ComplaintState,
    pub state_zh: &'static str,
    pub kind: ComplaintKind,
    pub kind_zh: &'static str,
    pub order_id: Option<i64>,
    pub elder_id: i64,
    pub caregiver_id: Option<i64>,
    pub region_code: String,
    pub text: String,
    pub complainant: OrderActor,
    pub opened_at: i64,
    /// When it must be resolved by (Unix ms).
    pub deadline: i64,
    pub overdue: bool,
    pub handler: Option<OrderActor>,
    pub upheld: Option<bool>,
    pub resolution: String,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<zhulao_services::quality::ComplaintEntry>,
}

fn complaint_view(r: &ComplaintRow, now_ms: i64) -> ComplaintView {
    let c = &r.case;
    ComplaintView {
        id: r.id,
        version: r.version,
        state: c.state,
        state_zh: c.state.label_zh(),
        kind: c.kind,
        kind_zh: c.kind.label_zh(),
        order_id: c.order,
        elder_id: c.elder,
        caregiver_id: c.caregiver,
        region_code: r.region_code.clone(),
        text: c.text.clone(),
        complainant: c.complainant,
        opened_at: ms(c.opened_at),
        deadline: ms(c.deadline),
        overdue: matches!(c.state, ComplaintState::Open | ComplaintState::Handling)
            && ms(c.deadline) < now_ms,
        handler: c.handler,
        upheld: c.upheld,
        resolution: c.resolution.clone(),
        history: c.history.clone(),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct ComplaintQuery {
    /// open, handling, resolved, closed.
    pub state: Option<String>,
    pub caregiver_id: Option<i64>,
    pub order_id: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Complaint cases in the viewer's scope: open ones first, nearest deadline first.
#[utoipa::path(get, path = "/api/v1/complaints", params(ComplaintQuery), responses((status = 200, body = PageView<ComplaintView>)))]
pub async fn list_complaints(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ComplaintQuery>,
) -> ApiResult<Json<PageView<ComplaintView>>> {
    user.require(Action::ReadOrders)?;
    let per_page = q.per_page.unwrap_or(20).clamp(1, 200);
    let page = q.page.unwrap_or(1).max(1);
    let state_filter = match q.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(ComplaintState::parse_field("state", s)?),
        None => None,
    };
    let rows = state
        .store
        .list_complaints(&ComplaintFilter {
            scope: order_scope(&user.viewer()),
            state: state_filter,
            caregiver_id: q.caregiver_id,
            order_id: q.order_id,
            offset: (page - 1).saturating_mul(per_page),
            limit: per_page,
        })
        .await?;
    let now = state.store.clock().now_ms();
    Ok(Json(PageView {
        items: rows.items.iter().map(|r| complaint_view(r, now)).collect(),
        total: rows.total,
        page,
        per_page,
    }))
}

#[utoipa::path(get, path = "/api/v1/complaints/{id}", responses((status = 200, body = ComplaintView)))]
pub async fn get_complaint(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ComplaintView>> {
    let row = visible_complaint(&state, &user, id).await?;
    Ok(Json(complaint_view(&row, state.store.clock().now_ms())))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ComplaintActionBody {
    /// resolve: whether the complaint was justified (counts against the caregiver).
    pub upheld: Option<bool>,
    /// resolve: what was done.
    pub resolution: Option<String>,
    /// reopen: why the complainant is not satisfied.
    pub reason: Option<String>,
}

/// A step on a complaint: staff `accept` and `resolve`; the complainant's side `reopen`,
/// `close` and `withdraw` (staff may also `close` a resolved case).
#[utoipa::path(post, path = "/api/v1/complaints/{id}/{action}", request_body = ComplaintActionBody,
    responses((status = 200, body = ComplaintView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn complaint_action(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, action)): ApiPath<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<ComplaintView>> {
    let b: ComplaintActionBody = optional_json(&body)?;
    visible_complaint(&state, &user, id).await?;
    let by = actor(&user);
    let cmd = match action.as_str() {
        "accept" | "resolve" => {
            user.require(Action::HandleComplaints)?;
            if action == "accept" {
                ComplaintCommand::Accept { by }
            } else {
                ComplaintCommand::Resolve {
                    by,
                    upheld: b.upheld.ok_or_else(|| ApiError::missing("upheld"))?,
                    resolution: b.resolution.unwrap_or_default(),
                }
            }
        }
        "reopen" => ComplaintCommand::Reopen { by, reason: b.reason.unwrap_or_default() },
        "close" => ComplaintCommand::Close { by },
        "withdraw" => ComplaintCommand::Withdraw { by },
        _ => return Err(ApiError::NotFound("route")),
    };
    let row = state.orders.complaint_step(id, cmd).await.with_field("complaint")?;
    Ok(Json(complaint_view(&row, state.store.clock().now_ms())))
}
