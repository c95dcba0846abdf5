//! JSON and query extractors whose rejections use the API's own error shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `axum::Json` with rejections as [`ApiError`] (code `invalid_json`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => {
                let detail = rej.body_text();
                Err(ApiError::bad_request(
                    "invalid_json",
                    format!("请求内容不是有效的 JSON：{detail}"),
                    detail,
                ))
            }
        }
    }
}

/// `axum::extract::Query` with rejections as [`ApiError`] (code `invalid_query`).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rej) => {
                let detail = rej.body_text();
                Err(ApiError::bad_request("invalid_query", format!("查询参数有误：{detail}"), detail))
            }
        }
    }
}

/// `axum::extract::Path` with rejections as [`ApiError`] (code `invalid_path`).
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rej) => {
                let detail = rej.body_text();
                Err(ApiError::bad_request("invalid_path", format!("路径参数有误：{detail}"), detail))
            }
        }
    }
}
