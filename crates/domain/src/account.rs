//! Staff, family and admin accounts, and their roles.

use crate::code_enum;
use crate::error::{Errors, FieldError, optional_text, required_text};
use crate::phone::Phone;
use crate::region::RegionCode;

code_enum! {
    Role {
        Admin = ("admin", "管理员", "administrator"),
        Supervisor = ("supervisor", "民政监管", "supervisor"),
        Operator = ("operator", "坐席", "call-centre operator"),
        Caregiver = ("caregiver", "助老员", "caregiver"),
        CareManager = ("care_manager", "养老管家", "care manager"),
        StationStaff = ("station_staff", "服务站工作人员", "station staff"),
        Family = ("family", "家属", "family member"),
    }
}

/// A stored account (never with its password hash: that stays in the store).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub phone: Option<Phone>,
    /// The region a supervisor, operator, care manager or caregiver works in.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub region: Option<RegionCode>,
    /// The facility a station's staff belong to.
    pub facility_id: Option<i64>,
    /// Caregiver skills (e.g. `cleaning`, `medical_escort`), matched against services.
    pub skills: Vec<String>,
    /// Certificates held (e.g. 养老护理员 level).
    pub certificates: Vec<String>,
    pub active: bool,
    pub created_at: i64,
}

/// The validated content of a new account.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub phone: Option<Phone>,
    pub region: Option<RegionCode>,
    pub facility_id: Option<i64>,
    pub skills: Vec<String>,
    pub certificates: Vec<String>,
}

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct AccountInput {
    pub username: String,
    pub display_name: String,
    pub role: String,
    #[serde(skip_serializing)]
    pub password: String,
    pub phone: String,
    pub region_code: String,
    pub facility_id: Option<i64>,
    pub skills: Vec<String>,
    pub certificates: Vec<String>,
}

impl std::fmt::Debug for AccountInput {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountInput")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

pub const MIN_PASSWORD: usize = 8;

impl AccountInput {
    /// Validates the account and its password (at least 8 characters, not all digits).
    pub fn validate(&self) -> Result<(NewAccount, String), Vec<FieldError>> {
        let mut errs = Errors::default();
        let username = errs.take(required_text("username", &self.username, 32).and_then(|u| {
            if u.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
                Ok(u.to_ascii_lowercase())
            } else {
                Err(FieldError::new(
                    "username",
                    "username_format",
                    "用户名只能包含字母、数字、下划线、点和连字符",
                    "a username has letters, digits, _ . - only",
                ))
            }
        }));
        let display_name = errs.take(required_text("display_name", &self.display_name, 50));
        let role = errs.take(Role::parse_field("role", &self.role));
        let phone = errs.take(
            optional_text("phone", &self.phone, 20)
                .and_then(|p| p.map(|p| Phone::parse("phone", &p)).transpose()),
        );
        let region = errs.take(if self.region_code.trim().is_empty() {
            Ok(None)
        } else {
            RegionCode::parse("region_code", &self.region_code).map(Some)
        });
        let password = errs.take(check_password(&self.password));
        let list = |field: &str, v: &[String]| -> Result<Vec<String>, FieldError> {
            v.iter().filter_map(|s| optional_text(field, s, 50).transpose()).collect()
        };
        let skills = errs.take(list("skills", &self.skills));
        let certificates = errs.take(list("certificates", &self.certificates));
        if role == Some(Role::StationStaff) && self.facility_id.is_none() {
            errs.push(FieldError::new(
                "facility_id",
                "required",
                "服务站工作人员须指定所属机构",
                "station staff need a facility",
            ));
        }
        errs.check()?;
        Ok((
            NewAccount {
                username: username.expect("checked"),
                display_name: display_name.expect("checked"),
                role: role.expect("checked"),
                phone: phone.expect("checked"),
                region: region.expect("checked"),
                facility_id: self.facility_id,
                skills: skills.expect("checked"),
                certificates: certificates.expect("checked"),
            },
            password.expect("checked"),
        ))
    }
}

/// Password rule: 8–128 characters, not only digits.
pub fn check_password(p: &str) -> Result<String, FieldError> {
    let n = p.chars().count();
    if !(MIN_PASSWORD..=128).contains(&n) || p.chars().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(
            "password",
            "weak_password",
            "密码须为8~128个字符，且不能全是数字",
            "a password has 8 to 128 characters and is not only digits",
        ));
    }
    Ok(p.to_string())
}
