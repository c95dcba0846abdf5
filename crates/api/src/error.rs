//! The API's one error shape: `{code, message, message_en, field?, errors?}` with a stable
//! machine-readable code, a Chinese message for end users and an English one. 5xx details
//! are logged, never shown.
//!
//! Every error a handler meets converts with `?`: the store's, the domain's field errors,
//! the service layer's (`zhulao_orders`), the response service's and the alarm rules'
//! (`zhulao_response`, `zhulao_alarms`), the ledger's, device command refusals and failed
//! blocking tasks. A refusal by the service layer names the field it concerns with
//! [`WithField::with_field`].

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use zhulao_alarms::TransitionError;
use zhulao_domain::{Coded, FieldError};
use zhulao_ledger::LedgerError;
use zhulao_orders::ServiceError;
use zhulao_response::{ActError, CommandRefused};
use zhulao_store::StoreError;

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code, e.g. `validation`, `not_found`, `forbidden`, `id_number_checksum`.
    pub code: String,
    /// For people, in Chinese.
    pub message: String,
    pub message_en: String,
    /// The offending input field, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field error, when the input had several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldErrorBody>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    pub code: String,
    pub message: String,
    pub message_en: String,
}

impl From<&FieldError> for FieldErrorBody {
    fn from(e: &FieldError) -> Self {
        FieldErrorBody {
            field: e.field.clone(),
            code: e.code.into(),
            message: e.zh.clone(),
            message_en: e.en.clone(),
        }
    }
}

#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    Forbidden,
    NotFound(&'static str),
    Invalid(Vec<FieldError>),
    Conflict(FieldError),
    /// A step the service layer refused (409), with the field it concerns when known.
    Refused {
        field: Option<&'static str>,
        code: &'static str,
        zh: String,
        en: String,
    },
    Stale(i64),
    TooManyAttempts {
        retry_after_s: i64,
    },
    /// An upload over the size limit.
    TooLarge {
        max_bytes: usize,
    },
    /// An account with as many live feeds open as it may have.
    TooManyStreams,
    /// A JSON body over its route's limit (sign-in takes 4 KiB, most routes 20 MB).
    BodyTooLarge,
    /// A request that is malformed as a whole (bad JSON, wrong content type, too large).
    BadRequest {
        code: &'static str,
        zh: String,
        en: String,
    },
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        ApiError::BadRequest { code, zh: zh.into(), en: en.into() }
    }
    pub fn field(e: FieldError) -> Self {
        ApiError::Invalid(vec![e])
    }
    /// A required input that is absent (422 `required`).
    pub fn missing(field: &str) -> Self {
        ApiError::field(FieldError::new(
            field,
            "required",
            format!("缺少 {field}"),
            format!("{field} is required"),
        ))
    }
    /// Names the field a refusal reports; any other error is returned unchanged.
    pub fn with_field(self, field: &'static str) -> Self {
        match self {
            ApiError::Refused { code, zh, en, .. } => ApiError::Refused { field: Some(field), code, zh, en },
            other => other,
        }
    }
}

/// [`ApiError::with_field`] on a result whose error converts to [`ApiError`].
pub trait WithField<T> {
    fn with_field(self, field: &'static str) -> ApiResult<T>;
}

impl<T, E: Into<ApiError>> WithField<T> for Result<T, E> {
    fn with_field(self, field: &'static str) -> ApiResult<T> {
        self.map_err(|e| e.into().with_field(field))
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(vec![e])
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> Self {
        ApiError::Invalid(errors)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity } => ApiError::NotFound(entity),
            StoreError::Conflict(f) => ApiError::Conflict(f),
            StoreError::Invalid(f) => ApiError::Invalid(vec![f]),
            StoreError::Stale { current } => ApiError::Stale(current),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The service layer's error; a refusal is 409 (name its field with [`WithField`]).
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(entity) => ApiError::NotFound(entity),
            ServiceError::Invalid(errors) => ApiError::Invalid(errors),
            ServiceError::Refused { code, zh, en } => ApiError::Refused { field: None, code, zh, en },
            ServiceError::Store(e) => e.into(),
        }
    }
}

/// An alarm step that does not fit the alarm's state: 409 with `field` = `alarm`.
impl From<TransitionError> for ApiError {
    fn from(t: TransitionError) -> Self {
        ApiError::Conflict(t.to_field_error("alarm"))
    }
}

impl From<ActError> for ApiError {
    fn from(e: ActError) -> Self {
        match e {
            ActError::Store(s) => s.into(),
            // A step that does not fit, or retries that ran out (was a 412 "version -1"):
            // a conflict, like the order service's.
            e => ApiError::Conflict(e.to_field_error("alarm")),
        }
    }
}

/// A ledger file rejected as a whole is the request's fault (400); a failed export is ours.
impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Export { .. } => ApiError::Internal(e.en()),
            e => ApiError::bad_request(e.code(), e.zh(), e.en()),
        }
    }
}

/// A command a device cannot take now (409) or at all (422).
impl From<CommandRefused> for ApiError {
    fn from(e: CommandRefused) -> Self {
        match e {
            CommandRefused::NotConnected | CommandRefused::DeviceConflict | CommandRefused::NotSettled => {
                ApiError::Conflict(e.to_field_error("device"))
            }
            e => ApiError::field(e.to_field_error("command")),
        }
    }
}

/// A blocking task (password hashing, spreadsheets) that panicked or was cancelled.
impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

fn body(status: StatusCode, code: &str, zh: &str, en: &str) -> (StatusCode, ErrorBody) {
    (
        status,
        ErrorBody {
            code: code.into(),
            message: zh.into(),
            message_en: en.into(),
            field: None,
            errors: vec![],
        },
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, mut b) = match &self {
            ApiError::Unauthenticated => {
                body(StatusCode::UNAUTHORIZED, "unauthenticated", "请先登录", "please sign in")
            }
            ApiError::Forbidden => body(StatusCode::FORBIDDEN, "forbidden", "无权执行此操作", "not allowed"),
            ApiError::NotFound(entity) => {
                let (s, mut b) = body(StatusCode::NOT_FOUND, "not_found", "记录不存在", "not found");
                b.message_en = format!("{entity} not found");
                (s, b)
            }
            ApiError::Invalid(errors) => {
                let first = errors.first();
                let (s, mut b) = body(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    first.map_or("validation", |e| e.code),
                    first.map_or("输入有误", |e| e.zh.as_str()),
                    first.map_or("invalid input", |e| e.en.as_str()),
                );
                b.field = first.map(|e| e.field.clone());
                b.errors = errors.iter().map(FieldErrorBody::from).collect();
                (s, b)
            }
            ApiError::Conflict(e) => {
                let (s, mut b) = body(StatusCode::CONFLICT, e.code, &e.zh, &e.en);
                b.field = Some(e.field.clone());
                (s, b)
            }
            ApiError::Refused { field, code, zh, en } => {
                let (s, mut b) = body(StatusCode::CONFLICT, code, zh, en);
                b.field = field.map(str::to_string);
                (s, b)
            }
            ApiError::Stale(current) => body(
                StatusCode::PRECONDITION_FAILED,
                "stale",
                &format!("记录已被他人修改（当前版本 {current}），请刷新后重试"),
                &format!("the record changed meanwhile (now version {current}); reload and retry"),
            ),
            ApiError::TooManyAttempts { retry_after_s } => body(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                &format!("登录失败次数过多，请 {} 分钟后再试", (retry_after_s + 59) / 60),
                &format!("too many failed sign-ins; retry in {retry_after_s} s"),
            ),
            ApiError::TooLarge { max_bytes } => body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &format!("上传文件过大（最大 {} MB）", max_bytes / (1024 * 1024)),
                &format!("the upload is too large (at most {} MB)", max_bytes / (1024 * 1024)),
            ),
            ApiError::TooManyStreams => body(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                "该账号打开的实时连接过多，请关闭其他页面后重试",
                "this account has too many live feeds open; close another page and retry",
            ),
            ApiError::BodyTooLarge => body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "请求内容过大",
                "the request body is too large",
            ),
            ApiError::BadRequest { code, zh, en } => body(StatusCode::BAD_REQUEST, code, zh, en),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                body(StatusCode::INTERNAL_SERVER_ERROR, "internal", "服务器内部错误", "internal server error")
            }
        };
        if b.errors.len() == 1 {
            b.errors.clear();
        }
        (status, Json(b)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    fn status_and_code(e: ApiError) -> (StatusCode, String) {
        let r = e.into_response();
        let status = r.status();
        let body = futures_body(r);
        (status, body["code"].as_str().unwrap_or_default().to_string())
    }

    fn futures_body(r: Response) -> serde_json::Value {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(http_body_util::BodyExt::collect(r.into_body()))
            .unwrap()
            .to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn an_alarm_that_keeps_changing_is_a_conflict_not_a_stale_version() {
        // Retries that run out used to surface as 412 "version -1".
        assert_eq!(
            status_and_code(ActError::Contended.into()),
            (StatusCode::CONFLICT, "alarm_busy".to_string())
        );
        assert_eq!(
            status_and_code(ActError::Transition(TransitionError::Closed).into()),
            (StatusCode::CONFLICT, "alarm_closed".to_string())
        );
        assert_eq!(
            status_and_code(CommandRefused::NotConnected.into()),
            (StatusCode::CONFLICT, "device_not_connected".to_string())
        );
        assert_eq!(
            status_and_code(CommandRefused::Unsupported.into()),
            (StatusCode::UNPROCESSABLE_ENTITY, "unsupported".to_string())
        );
    }
}
