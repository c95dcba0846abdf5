//! Reading requests: JSON, query and path extractors whose rejections use the API's own
//! error shape, and the request inputs several resources share (paging, the elder filters,
//! `If-Match`, dates and months, optional JSON bodies, uploaded photos, size limits).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use chrono::{Months, NaiveDate};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use zhulao_domain::policy;
use zhulao_domain::{
    CapabilityLevel, EconomicStatus, ElderStatus, FieldError, Hukou, LivingArrangement, RegionCode, Viewer,
};
use zhulao_store::{ElderFilter, NewPhoto};

use crate::error::{ApiError, ApiResult};

/// `axum::Json` with rejections as [`ApiError`] (code `invalid_json`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) if rej.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::BodyTooLarge)
            }
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

/// The largest ledger upload accepted.
pub(crate) const MAX_UPLOAD: usize = zhulao_ledger::MAX_BYTES;

/// `page` and `per_page` of a list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct Paging {
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page, 1–200 (default 20).
    pub per_page: Option<i64>,
}

impl Paging {
    pub(crate) fn bounds(&self) -> (i64, i64) {
        let per_page = self.per_page.unwrap_or(20).clamp(1, 200);
        let page = self.page.unwrap_or(1).max(1);
        ((page - 1).saturating_mul(per_page), per_page)
    }
}

/// Parses an optional vocabulary value from a query string.
pub(crate) fn opt<T>(
    field: &str,
    v: &Option<String>,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
) -> ApiResult<Option<T>> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse(field, s))
        .transpose()
        .map_err(ApiError::field)
}

/// The record version an `If-Match` header names, if any.
pub(crate) fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    match headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(v) => Ok(Some(
            v.to_str().ok().and_then(|s| s.trim_matches('"').parse::<i64>().ok()).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_if_match",
                    "If-Match 应为记录版本号",
                    "If-Match must be the record version",
                )
            })?,
        )),
    }
}

/// A month written `2026-05`.
pub(crate) fn parse_month(field: &str, s: &str) -> ApiResult<(i32, u32)> {
    let bad = || {
        ApiError::field(FieldError::new(
            field,
            "invalid_month",
            "月份格式应为 2026-05",
            "a month is written 2026-05",
        ))
    };
    let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
    let (y, m) = (y.parse::<i32>().map_err(|_| bad())?, m.parse::<u32>().map_err(|_| bad())?);
    if !(2000..=2200).contains(&y) || !(1..=12).contains(&m) {
        return Err(bad());
    }
    Ok((y, m))
}

/// A day written `2026-05-12`.
pub(crate) fn parse_date(field: &str, s: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::field(FieldError::new(
            field,
            "invalid_date",
            "日期格式应为 2026-05-12",
            "a date is written 2026-05-12",
        ))
    })
}

/// An optional JSON body: empty (or only whitespace) is `T::default()`; anything else must
/// parse (code `invalid_json`).
pub(crate) fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        code: "invalid_json",
        zh: format!("请求内容不是有效的 JSON：{e}"),
        en: format!("the body is not valid JSON: {e}"),
    })
}

/// The elder list's filters (also the ledger export's).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct ElderQuery {
    /// Region code (6, 9 or 12 digits): the region and everything in it.
    pub region: Option<String>,
    /// `active`, `moved_away`, `deceased` (default: all).
    pub status: Option<String>,
    pub age_min: Option<u32>,
    pub age_max: Option<u32>,
    /// `alone`, `empty_nest`, `with_children`, `institutional`, `other` (or 独居, 空巢 …).
    pub living: Option<String>,
    /// `dibao`, `tekun`, `wubao`, `hardship`, `general` (or 低保, 特困 …).
    pub economic: Option<String>,
    /// 0–4.
    pub capability: Option<String>,
    pub hukou: Option<String>,
    pub has_card: Option<bool>,
    pub has_device: Option<bool>,
    pub care_manager_id: Option<i64>,
    pub home_station_id: Option<i64>,
    /// A name fragment, or an exact ID number or phone.
    pub q: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl ElderQuery {
    pub(crate) fn filter(
        &self,
        v: &Viewer,
        today: NaiveDate,
        offset: i64,
        limit: i64,
    ) -> ApiResult<ElderFilter> {
        let years = |n: u32| today.checked_sub_months(Months::new(12 * n)).unwrap_or(NaiveDate::MIN);
        if let (Some(a), Some(b)) = (self.age_min, self.age_max)
            && a > b
        {
            return Err(ApiError::field(FieldError::new(
                "age_min",
                "range",
                "最小年龄大于最大年龄",
                "age_min > age_max",
            )));
        }
        Ok(ElderFilter {
            scope: policy::elder_scope(v),
            region_prefix: opt("region", &self.region, RegionCode::parse)?.map(|r| r.prefix().to_string()),
            status: opt("status", &self.status, ElderStatus::parse_field)?,
            born_on_or_before: self.age_min.map(|a| years(a.min(150))),
            born_on_or_after: self
                .age_max
                .map(|b| years(b.min(150) + 1).succ_opt().unwrap_or(NaiveDate::MAX)),
            living: opt("living", &self.living, LivingArrangement::parse_field)?,
            economic: opt("economic", &self.economic, EconomicStatus::parse_field)?,
            capability: opt("capability", &self.capability, CapabilityLevel::parse_field)?,
            hukou: opt("hukou", &self.hukou, Hukou::parse_field)?,
            has_card: self.has_card,
            has_device: self.has_device,
            care_manager_id: self.care_manager_id,
            home_station_id: self.home_station_id,
            query: self.q.clone().filter(|q| q.chars().count() <= 50),
            offset,
            limit,
        })
    }
}

/// The largest photo accepted.
pub(crate) const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;

/// Checks a photo's type (declared and by its first bytes) and size.
pub(crate) fn check_photo(declared: Option<&str>, bytes: &[u8], field: &str) -> ApiResult<NewPhoto> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(ApiError::TooLarge { max_bytes: MAX_PHOTO_BYTES });
    }
    let sniffed = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    };
    let declared = declared.map(|d| d.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let ok = match (sniffed, declared.as_deref()) {
        (Some(s), Some(d)) => s == d || (s == "image/jpeg" && d == "image/jpg"),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if bytes.is_empty() || !ok {
        return Err(ApiError::field(FieldError::new(
            field,
            "photo_type",
            "照片格式应为 JPEG、PNG 或 WebP（文件内容与类型须一致）",
            "a photo must be JPEG, PNG or WebP (and its content must match its type)",
        )));
    }
    let digest = Sha256::digest(bytes);
    let reference: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Ok(NewPhoto { reference, content_type: sniffed.unwrap_or_default().to_string(), bytes: bytes.to_vec() })
}
