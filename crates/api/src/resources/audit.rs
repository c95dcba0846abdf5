//! The audit log: who changed what, when, with before and after; personal values scrubbed
//! for everyone but administrators.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use zhulao_domain::{Action, Role};
use zhulao_store::{AuditEntry, AuditFilter};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{ApiQuery, Paging};
use crate::views::{PageView, scrub_personal};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list_audit))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct AuditQuery {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = PageView<AuditView>)))]
pub async fn list_audit(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<PageView<AuditView>>> {
    user.require(Action::ReadAudit)?;
    let (offset, limit) = Paging { page: q.page, per_page: q.per_page }.bounds();
    let f = AuditFilter { entity: q.entity, entity_id: q.entity_id, actor_id: q.actor_id, offset, limit };
    let scrub = user.account.role != Role::Admin;
    let page = state.store.list_audit(&f).await?;
    Ok(Json(PageView::from_store(page, |e: AuditEntry| {
        let (mut before, mut after) = (e.before, e.after);
        if scrub {
            before.iter_mut().chain(after.iter_mut()).for_each(scrub_personal);
        }
        AuditView {
            id: e.id,
            at: e.at,
            actor_id: e.actor_id,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            before,
            after,
        }
    })))
}
