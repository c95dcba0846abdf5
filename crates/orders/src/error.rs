//! The service layer's error: a refused step (409 for the API), invalid input (422), a
//! missing record (404), or the store's own error.

use zhulao_domain::FieldError;
use zhulao_services::Refusal;
use zhulao_store::StoreError;

#[derive(Debug)]
pub enum ServiceError {
    NotFound(&'static str),
    Invalid(Vec<FieldError>),
    /// The step does not fit the record's state or the actor's rights; nothing was written.
    Refused {
        code: &'static str,
        zh: String,
        en: String,
    },
    Store(StoreError),
}

impl ServiceError {
    pub fn refused(r: &impl Refusal) -> Self {
        ServiceError::Refused { code: r.code(), zh: r.zh(), en: r.en() }
    }

    pub fn refuse(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        ServiceError::Refused { code, zh: zh.into(), en: en.into() }
    }

    pub fn field(e: FieldError) -> Self {
        ServiceError::Invalid(vec![e])
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity } => ServiceError::NotFound(entity),
            other => ServiceError::Store(other),
        }
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::NotFound(e) => write!(f, "{e} not found"),
            ServiceError::Invalid(e) => {
                write!(f, "invalid: {}", e.iter().map(|e| e.en.clone()).collect::<Vec<_>>().join("; "))
            }
            ServiceError::Refused { code, en, .. } => write!(f, "{code}: {en}"),
            ServiceError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServiceError {}

pub type ServiceResult<T> = Result<T, ServiceError>;
