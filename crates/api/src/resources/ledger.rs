//! The elder ledger as spreadsheets: import (.xlsx or .csv, validated row by row, scoped
//! to what the importer may write), export (masked as the viewer may see it), the template.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use zhulao_domain::policy;
use zhulao_domain::{Action, ElderRecord, Region, RegionCode, Role};

use crate::AppState;
use crate::access::constrain_elder;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, ElderQuery, MAX_UPLOAD};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ledger/import", post(import_ledger))
        .route("/ledger/export", get(export_ledger))
        .route("/ledger/template", get(ledger_template))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct ImportQuery {
    /// The uploaded file's name; its extension (.xlsx, .csv) picks the format when given.
    pub filename: Option<String>,
    /// Validate and report without writing.
    pub dry_run: bool,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub total_rows: usize,
    pub valid_rows: usize,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub dry_run: bool,
    pub errors: Vec<RowErrorView>,
    pub warnings: Vec<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RowErrorView {
    /// The spreadsheet row number as staff see it (the header is row 1).
    pub row: usize,
    pub column: String,
    /// The offending cell; ID numbers and phones only masked.
    pub value: String,
    pub code: String,
    pub message: String,
    pub message_en: String,
}

/// Upload a ledger (.xlsx or .csv in UTF-8 or GBK) as the request body. Every row is
/// validated; valid rows are stored in one transaction (re-importing updates, matched by ID
/// number); invalid rows come back in `errors`.
#[utoipa::path(post, path = "/api/v1/ledger/import", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = ImportReport), (status = 400, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
pub async fn import_ledger(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<ImportReport>> {
    user.require(Action::ImportLedger)?;
    let body = body.map_err(|rej| match rej {
        axum::extract::rejection::BytesRejection::FailedToBufferBody(_) => {
            ApiError::TooLarge { max_bytes: MAX_UPLOAD }
        }
        other => ApiError::bad_request("invalid_body", "无法读取上传内容", other.body_text()),
    })?;
    if body.is_empty() {
        return Err(ApiError::bad_request("empty_upload", "上传的文件为空", "the upload is empty"));
    }
    let regions = all_regions(&state).await?;
    let known: std::collections::HashSet<String> =
        regions.iter().map(|r| r.code.as_str().to_string()).collect();
    let today = state.today();
    let format = zhulao_ledger::Format::detect(q.filename.as_deref(), &body);
    let parsed = tokio::task::spawn_blocking(move || {
        let resolve = |name: &str| resolve_region(&regions, name);
        zhulao_ledger::parse_ledger(&body, format, today, &resolve)
    })
    .await??;

    let v = user.viewer();
    let mut errors: Vec<RowErrorView> = parsed.errors.iter().map(row_error).collect();
    let mut records = Vec::with_capacity(parsed.rows.len());
    for row in parsed.rows {
        let mut rec = row.record;
        if !known.contains(rec.region.as_str()) {
            errors.push(RowErrorView {
                row: row.row,
                column: "区划代码".into(),
                value: rec.region.to_string(),
                code: "unknown_region".into(),
                message: format!("区划代码 {} 不存在", rec.region),
                message_en: format!("unknown region code {}", rec.region),
            });
            continue;
        }
        if constrain_elder(&v, &mut rec).is_err() {
            errors.push(RowErrorView {
                row: row.row,
                column: "所属社区".into(),
                value: rec.region.to_string(),
                code: "out_of_scope".into(),
                message: "该老人不在您的管辖范围内".into(),
                message_en: "this elder is outside your scope".into(),
            });
            continue;
        }
        // An existing record of another station is not this station's to overwrite.
        if v.role == Role::StationStaff
            && let Some(existing) = state.store.elder_by_id_number(rec.id_number.as_str()).await?
            && existing.record.home_station_id != v.facility_id
        {
            errors.push(RowErrorView {
                row: row.row,
                column: "身份证号".into(),
                value: rec.id_number.masked(),
                code: "other_station".into(),
                message: "该老人已登记在其他服务站".into(),
                message_en: "this elder is registered at another station".into(),
            });
            continue;
        }
        records.push(rec);
    }
    errors.sort_by_key(|e| e.row);
    let summary = if q.dry_run || records.is_empty() {
        zhulao_store::ImportSummary::default()
    } else {
        state.store.import_elders(&records, user.actor()).await?
    };
    Ok(Json(ImportReport {
        total_rows: parsed.total_rows,
        valid_rows: records.len(),
        inserted: summary.inserted,
        updated: summary.updated,
        unchanged: summary.unchanged,
        dry_run: q.dry_run,
        errors,
        warnings: parsed.warnings,
    }))
}

fn row_error(e: &zhulao_ledger::RowError) -> RowErrorView {
    RowErrorView {
        row: e.row,
        column: e.column.clone(),
        value: e.value.clone(),
        code: e.code.into(),
        message: e.zh.clone(),
        message_en: e.en.clone(),
    }
}

async fn all_regions(state: &AppState) -> ApiResult<Vec<Region>> {
    let mut out = Vec::new();
    let mut frontier = state.store.list_regions(None).await?;
    while let Some(r) = frontier.pop() {
        if r.level != zhulao_domain::RegionLevel::Village {
            frontier.extend(state.store.list_regions(Some(&r.code)).await?);
        }
        out.push(r);
    }
    Ok(out)
}

/// Finds a community or village by its official name (`柳港园社区居民委员会`) or the short
/// form staff write (`柳港园社区`, `柳港园`).
fn resolve_region(regions: &[Region], name: &str) -> Option<RegionCode> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let short = |s: &str| -> String {
        s.trim_end_matches("居民委员会").trim_end_matches("村民委员会").trim_end_matches("委员会").to_string()
    };
    let wanted = short(name);
    let matches: Vec<&Region> = regions
        .iter()
        .filter(|r| {
            r.name == name
                || short(&r.name) == wanted
                || short(&r.name).trim_end_matches(['社', '区', '村']) == wanted
        })
        .collect();
    // An ambiguous name resolves to nothing rather than to a guess.
    match matches.as_slice() {
        [one] => Some(one.code.clone()),
        _ => None,
    }
}

#[utoipa::path(get, path = "/api/v1/ledger/export", params(ElderQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
pub async fn export_ledger(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ElderQuery>,
) -> ApiResult<Response> {
    user.require(Action::ExportLedger)?;
    let today = state.today();
    let filter = q.filter(&user.viewer(), today, 0, 200_000)?;
    let elders = state.store.list_elders(&filter).await?.items;
    let access = policy::personal_data(&user.viewer());
    let names: std::collections::HashMap<String, String> =
        all_regions(&state).await?.into_iter().map(|r| (r.code.as_str().to_string(), r.name)).collect();
    let bytes = tokio::task::spawn_blocking(move || {
        let rows: Vec<zhulao_ledger::ExportRow> = elders
            .iter()
            .map(|e| {
                let mut row = zhulao_ledger::ExportRow::from_record(&e.record, today);
                row.region_name = names.get(e.record.region.as_str()).cloned().unwrap_or_default();
                row.status = e.status.label_zh().to_string();
                mask_export(&mut row, &e.record, access);
                row
            })
            .collect();
        zhulao_ledger::export_xlsx(&rows)
    })
    .await??;
    Ok(xlsx_response(bytes, "elders.xlsx"))
}

fn mask_export(row: &mut zhulao_ledger::ExportRow, rec: &ElderRecord, access: policy::PersonalData) {
    if !access.id_number {
        row.id_number = rec.id_number.masked();
        row.birth_date.clear();
    }
    if !access.phone {
        row.phone = rec.phone.as_ref().map(|p| p.masked()).unwrap_or_default();
    }
    if !access.address {
        row.address = policy::mask_address(&rec.address);
        row.lat.clear();
        row.lon.clear();
    }
    if !access.contacts {
        row.contacts.clear();
    }
    if !access.health {
        for f in [
            &mut row.chronic_conditions,
            &mut row.allergies,
            &mut row.medications,
            &mut row.blood_type,
            &mut row.family_doctor,
        ] {
            f.clear();
        }
    }
}

fn xlsx_response(bytes: Vec<u8>, filename: &str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        bytes,
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/v1/ledger/template",
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
pub async fn ledger_template(user: CurrentUser) -> ApiResult<Response> {
    user.require(Action::ImportLedger)?;
    Ok(xlsx_response(zhulao_ledger::template_xlsx(), "ledger-template.xlsx"))
}
