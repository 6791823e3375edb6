//! The admin surface's error: AList's envelope `{"code","message","data":null}`. As in
//! AList, failures of a routed operation answer HTTP 200 with the real status in `code`;
//! only failures before any operation is chosen (unknown path, wrong method, oversize
//! body) carry their status on the HTTP response too.

use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use sea_orm::DbErr;

use crate::api::error_layer;
use crate::db::is_unavailable;
use crate::domain::admin_users::AdminUserError;

#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AdminError {
    pub code: u16,
    pub message: String,
}

impl AdminError {
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn not_implemented(operation_id: &str) -> Self {
        Self::new(501, format!("{operation_id} is not built yet"))
    }

    pub fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "unexpected failure");
        Self::new(500, "internal server error")
    }
}

fn envelope(http: StatusCode, code: u16, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message, "data": null });
    poem::web::Json(body).with_status(http).into_response()
}

impl ResponseError for AdminError {
    fn status(&self) -> StatusCode {
        StatusCode::OK
    }

    fn as_response(&self) -> Response {
        envelope(StatusCode::OK, self.code, &self.message)
    }
}

/// The outcome an audit event records for a call that failed with `err`: AList's message
/// (its errors have no codes) and the envelope's code.
pub fn outcome(err: &poem::Error) -> (String, u16) {
    match err.downcast_ref::<AdminError>() {
        Some(e) => (e.message.clone(), e.code),
        None => {
            let failure = error_layer::classify(err);
            (failure.message, failure.status.as_u16())
        }
    }
}

/// The outcome of an answered call: the envelope's `code`, and its message when it is not
/// 200 (AList answers errors with HTTP 200).
pub fn answer_outcome(body: &serde_json::Value) -> Option<(String, u16)> {
    let code = u16::try_from(body.get("code")?.as_u64()?).ok()?;
    if code == 200 {
        return Some(("success".to_string(), 200));
    }
    let message = body.get("message").and_then(|m| m.as_str()).unwrap_or("");
    Some((message.to_string(), code))
}

/// Renders any error the admin endpoint returns in the AList envelope.
pub fn render(err: poem::Error) -> Response {
    if err.is::<AdminError>() {
        return err.into_response();
    }
    let failure = error_layer::classify(&err);
    let http = match failure.status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::PAYLOAD_TOO_LARGE => {
            failure.status
        }
        _ => StatusCode::OK,
    };
    let message = match failure.status {
        // AList's own words for a missing token.
        StatusCode::UNAUTHORIZED => "Guest user is disabled, login please".to_string(),
        _ => failure.message,
    };
    envelope(http, failure.status.as_u16(), &message)
}

impl From<DbErr> for AdminError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            tracing::error!(error = %err, cause = crate::db::unavailable_cause(&err), "database unavailable");
            Self::new(503, "service temporarily unavailable")
        } else {
            Self::internal(&err)
        }
    }
}

/// `?` on a domain failure answers it in AList's envelope, so a handler states only its
/// call. (`DbErr` is sea-orm's, so the orphan rule leaves its mapping to the handler.)
impl From<AdminUserError> for poem::Error {
    fn from(err: AdminUserError) -> Self {
        AdminError::from(err).into()
    }
}

impl From<AdminUserError> for AdminError {
    fn from(err: AdminUserError) -> Self {
        use AdminUserError as E;
        match &err {
            E::InvalidCredentials => {
                metrics::counter!("sign_in_failures_total", "surface" => "admin").increment(1)
            }
            E::LockedOut => {
                metrics::counter!("sign_in_locked_total", "surface" => "admin").increment(1)
            }
            _ => {}
        }
        let code = match &err {
            E::NotFound | E::UserInvalid | E::KeyNotFound => 404,
            E::UsernameTaken
            | E::AdminOrGuestCreate
            | E::RoleChanged
            | E::AdminDisabled
            | E::DeleteAdminOrGuest
            | E::UsernameEmpty
            | E::VerifyOtp
            | E::TwoFactorEnabled
            | E::TitleEmpty
            | E::DuplicateKeyTitle
            | E::KeyInvalid => 400,
            E::InvalidCredentials | E::Disabled => 401,
            E::LoginOtp => 402,
            E::LockedOut => 429,
            E::Db(db) if is_unavailable(db) => {
                tracing::error!(error = %db, cause = crate::db::unavailable_cause(db), "database unavailable");
                return Self::new(503, "service temporarily unavailable");
            }
            E::Db(_) | E::Token(_) | E::Totp(_) | E::Hash(_) => return Self::internal(&err),
        };
        Self::new(code, err.to_string())
    }
}
