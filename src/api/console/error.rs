//! The console surface's error: Dify's `{"code","message","status"}` with that HTTP status.

use poem::error::ResponseError;
use poem::http::{StatusCode, header};
use poem::{IntoResponse, Response};
use sea_orm::DbErr;

use crate::api::error_layer;
use crate::db::is_unavailable;
use crate::domain::access_tokens::AccessTokenError;
use crate::domain::account_deletion::DeletionError;
use crate::domain::accounts::AccountError;
use crate::domain::datasets::DatasetError;
use crate::domain::email_change::EmailChangeError;
use crate::domain::email_code_login::CodeLoginError;
use crate::domain::email_codes::{CodeError, Purpose};
use crate::domain::groups::GroupError;
use crate::domain::invitations::InvitationError;
use crate::domain::owner_transfer::TransferError;
use crate::domain::password_reset::ResetError;
use crate::domain::policy::MemberRefusal;
use crate::domain::profile::ProfileError;
use crate::domain::registration::RegisterError;
use crate::domain::session::SessionError;
use crate::domain::setup::SetupError;
use crate::domain::workspace_members::MemberError;
use crate::domain::workspaces::WorkspaceError;

#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ConsoleError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ConsoleError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid_param(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_param", message)
    }

    pub fn not_implemented(operation_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            format!("{operation_id} is not built yet."),
        )
    }

    /// An unexpected failure: logged in full (the request span carries the request id),
    /// answered opaquely.
    pub fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "unexpected failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "Internal Server Error",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The service is temporarily unavailable; try again shortly.",
        )
    }
}

fn envelope(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "code": code,
        "message": message,
        "status": status.as_u16(),
    });
    let mut resp = poem::web::Json(body).with_status(status).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"api\""),
        );
    }
    resp
}

impl ResponseError for ConsoleError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        envelope(self.status, self.code, &self.message)
    }
}

/// Renders any error the console endpoint returns in the console envelope.
pub fn render(err: poem::Error) -> Response {
    if err.is::<ConsoleError>() {
        return err.into_response();
    }
    let failure = error_layer::classify(&err);
    envelope(failure.status, failure.code, &failure.message)
}

/// The outcome an audit event records for a call that failed with `err`: its code.
pub fn outcome(err: &poem::Error) -> (String, u16) {
    match err.downcast_ref::<ConsoleError>() {
        Some(e) => (e.code.to_string(), e.status.as_u16()),
        None => {
            let failure = error_layer::classify(err);
            (failure.code.to_string(), failure.status.as_u16())
        }
    }
}

/// A domain error answers in the console's envelope wherever a handler meets it: `?` turns
/// it into its `ConsoleError` (the `From` impls below) and that into poem's error, so a
/// handler states only its call, not the mapping.
macro_rules! answered_as_console_errors {
    ($($domain:ty),* $(,)?) => {$(
        impl From<$domain> for poem::Error {
            fn from(err: $domain) -> Self {
                ConsoleError::from(err).into()
            }
        }
    )*};
}

// `DbErr` is sea-orm's: a handler that meets one names the mapping itself
// (`ConsoleError::from`), as the orphan rule forbids this impl for it.
answered_as_console_errors!(
    SetupError,
    AccessTokenError,
    SessionError,
    AccountError,
    InvitationError,
    GroupError,
    CodeError,
    ResetError,
    DatasetError,
    WorkspaceError,
    RegisterError,
    ProfileError,
    CodeLoginError,
    MemberError,
    EmailChangeError,
    DeletionError,
    TransferError,
    crate::domain::audit_events::AuditQueryError,
);

impl From<DbErr> for ConsoleError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            tracing::error!(error = %err, cause = crate::db::unavailable_cause(&err), "database unavailable");
            Self::unavailable()
        } else {
            Self::internal(&err)
        }
    }
}

impl From<SetupError> for ConsoleError {
    fn from(err: SetupError) -> Self {
        match err {
            SetupError::AlreadySetup => Self::new(
                StatusCode::FORBIDDEN,
                "already_setup",
                "Dify has been successfully installed. Please refresh the page or return to the dashboard homepage.",
            ),
            SetupError::NotInitValidated => Self::new(
                StatusCode::UNAUTHORIZED,
                "not_init_validated",
                "Init validation has not been completed yet. Please proceed with the init validation process first.",
            ),
            SetupError::InitValidateFailed => Self::new(
                StatusCode::UNAUTHORIZED,
                "init_validate_failed",
                "Init validation failed. Please check the password and try again.",
            ),
            SetupError::InvalidParam(message) => Self::invalid_param(message),
            SetupError::Db(err) => err.into(),
            SetupError::Hash(err) => Self::internal(&err),
        }
    }
}

impl ConsoleError {
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid Authorization token.",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "You don't have the permission to access the requested resource.",
        )
    }

    pub fn not_setup() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "not_setup",
            "Dify has not been initialized and installed yet. Please proceed with the initialization and installation process first.",
        )
    }
}

impl From<AccessTokenError> for ConsoleError {
    fn from(err: AccessTokenError) -> Self {
        match err {
            AccessTokenError::Invalid(message) => Self::invalid_param(message),
            AccessTokenError::TooMany => Self::new(
                StatusCode::BAD_REQUEST,
                "too_many_access_tokens",
                "An account holds at most 50 personal access tokens; revoke one first.",
            ),
            AccessTokenError::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                "access_token_not_found",
                "Personal access token not found.",
            ),
            AccessTokenError::AccountNotFound => Self::new(
                StatusCode::NOT_FOUND,
                "account_not_found",
                "Account not found.",
            ),
            AccessTokenError::Db(err) => err.into(),
        }
    }
}

impl From<SessionError> for ConsoleError {
    fn from(err: SessionError) -> Self {
        match &err {
            SessionError::BadCredentials => {
                metrics::counter!("sign_in_failures_total", "surface" => "console").increment(1)
            }
            SessionError::EmailLocked | SessionError::AddressLocked => {
                metrics::counter!("sign_in_locked_total", "surface" => "console").increment(1)
            }
            _ => {}
        }
        match err {
            SessionError::PasswordLoginDisabled => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Email and password login is disabled.",
            ),
            SessionError::InvalidEmail(message) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_email", message)
            }
            SessionError::BadCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "authentication_failed",
                "Invalid email or password.",
            ),
            SessionError::Banned => Self::new(
                StatusCode::BAD_REQUEST,
                "account_banned",
                "Account is banned.",
            ),
            SessionError::EmailLocked => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "email_code_login_limit",
                "Too many incorrect password attempts. Please try again later.",
            ),
            SessionError::AddressLocked => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "email_code_login_limit",
                "Too many failed sign-in attempts from this address. Please try again later.",
            ),
            SessionError::InvalidRefreshToken => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "Invalid refresh token",
            ),
            SessionError::InvalidAccessToken | SessionError::Token(_) => Self::unauthorized(),
            SessionError::Hash(err) => Self::internal(&err),
            SessionError::Db(err) => err.into(),
        }
    }
}

impl From<AccountError> for ConsoleError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::InvalidEmail(message) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_email", message)
            }
            AccountError::InvalidParam(message) => Self::invalid_param(message),
            AccountError::EmailExists => Self::new(
                StatusCode::CONFLICT,
                "user_register_failed",
                "Email already exists.",
            ),
            AccountError::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                "account_not_found",
                "Account not found.",
            ),
            AccountError::Forbidden(message) => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", message)
            }
            AccountError::Hash(err) => Self::internal(&err),
            AccountError::Db(err) => err.into(),
        }
    }
}

impl From<InvitationError> for ConsoleError {
    fn from(err: InvitationError) -> Self {
        match err {
            InvitationError::InvalidParam(message) => Self::invalid_param(message),
            InvitationError::InvalidEmail(message) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_email", message)
            }
            InvitationError::Forbidden(message) => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", message)
            }
            InvitationError::AlreadyActivated => Self::new(
                StatusCode::FORBIDDEN,
                "already_activate",
                "The activation link is invalid, expired or already used.",
            ),
            InvitationError::Session(err) => err.into(),
            InvitationError::Db(err) => err.into(),
        }
    }
}

impl From<GroupError> for ConsoleError {
    fn from(err: GroupError) -> Self {
        match err {
            GroupError::InvalidParam(message) => Self::invalid_param(message),
            GroupError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            GroupError::GroupNotFound => Self::new(
                StatusCode::NOT_FOUND,
                "group_not_found",
                "Enterprise group not found.",
            ),
            GroupError::AccountNotFound => Self::new(
                StatusCode::NOT_FOUND,
                "account_not_found",
                "Account not found.",
            ),
            GroupError::TenantNotFound => Self::new(
                StatusCode::NOT_FOUND,
                "tenant_not_found",
                "Workspace not found.",
            ),
            GroupError::Forbidden(message) => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", message)
            }
            GroupError::Db(err) => err.into(),
        }
    }
}

impl From<CodeError> for ConsoleError {
    fn from(err: CodeError) -> Self {
        let bad = |code, message: &str| Self::new(StatusCode::BAD_REQUEST, code, message);
        let busy = |code, message: &str| Self::new(StatusCode::TOO_MANY_REQUESTS, code, message);
        match err {
            CodeError::InvalidParam(message) => Self::invalid_param(message),
            CodeError::SendRateLimited(Purpose::ResetPassword) => busy(
                "password_reset_rate_limit_exceeded",
                "Too many password reset emails have been sent. Please try again in 1 minutes.",
            ),
            CodeError::SendRateLimited(Purpose::Register) => busy(
                "email_register_rate_limit_exceeded",
                "Too many registration emails have been sent. Please try again in 1 minutes.",
            ),
            CodeError::SendRateLimited(Purpose::Login) => busy(
                "email_code_login_rate_limit_exceeded",
                "Too many login emails have been sent. Please try again in 5 minutes.",
            ),
            CodeError::SendRateLimited(Purpose::ChangeEmailOld | Purpose::ChangeEmailNew) => busy(
                "email_change_rate_limit_exceeded",
                "Too many email change emails have been sent. Please try again in 1 minutes.",
            ),
            CodeError::SendRateLimited(Purpose::DeleteAccount) => busy(
                "email_code_account_deletion_rate_limit_exceeded",
                "Too many account deletion emails have been sent. Please try again in 1 minutes.",
            ),
            CodeError::SendRateLimited(Purpose::OwnerTransfer) => busy(
                "owner_transfer_rate_limit_exceeded",
                "Too many owner transfer emails have been sent. Please try again in 1 minutes.",
            ),
            CodeError::AddressRateLimited => busy(
                "email_send_ip_limit",
                "Too many emails have been sent from this IP address recently. Please try again later.",
            ),
            CodeError::InvalidToken => bad(
                "invalid_or_expired_token",
                "The token is invalid or has expired.",
            ),
            CodeError::EmailMismatch => bad("invalid_email", "The email address is not valid."),
            CodeError::WrongCode => bad("email_code_error", "Email code is invalid or expired."),
            CodeError::TooManyFailures(Purpose::ResetPassword) => busy(
                "email_password_reset_limit",
                "Too many failed password reset attempts. Please try again in 24 hours.",
            ),
            CodeError::TooManyFailures(Purpose::Register) => busy(
                "email_register_limit",
                "Too many failed email register attempts. Please try again in 24 hours.",
            ),
            CodeError::TooManyFailures(Purpose::Login) => busy(
                "email_code_login_error_limit",
                "Too many failed email code login attempts. Please try again in 24 hours.",
            ),
            CodeError::TooManyFailures(Purpose::ChangeEmailOld | Purpose::ChangeEmailNew) => busy(
                "email_change_limit",
                "Too many failed change email attempts. Please try again in 24 hours.",
            ),
            CodeError::TooManyFailures(Purpose::DeleteAccount) => busy(
                "account_delete_error_limit",
                "Too many failed account deletion attempts. Please try again in 24 hours.",
            ),
            CodeError::TooManyFailures(Purpose::OwnerTransfer) => busy(
                "owner_transfer_limit",
                "Too many failed owner transfer attempts. Please try again in 24 hours.",
            ),
            CodeError::Db(err) => err.into(),
        }
    }
}

fn password_mismatch() -> ConsoleError {
    ConsoleError::new(
        StatusCode::BAD_REQUEST,
        "password_mismatch",
        "The passwords do not match.",
    )
}

impl From<ResetError> for ConsoleError {
    fn from(err: ResetError) -> Self {
        match err {
            ResetError::Disabled => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Email and password login is disabled.",
            ),
            ResetError::Code(err) => err.into(),
            ResetError::InvalidParam(message) => Self::invalid_param(message),
            ResetError::PasswordMismatch => password_mismatch(),
            ResetError::AccountNotFound => Self::new(
                StatusCode::BAD_REQUEST,
                "account_not_found",
                "Account not found.",
            ),
            ResetError::Session(err) => err.into(),
            ResetError::Hash(err) => Self::internal(&err),
            ResetError::Db(err) => err.into(),
        }
    }
}

impl From<DatasetError> for ConsoleError {
    fn from(err: DatasetError) -> Self {
        match err {
            DatasetError::InvalidParam(message) => Self::invalid_param(message),
            DatasetError::Db(err) => err.into(),
        }
    }
}

impl From<WorkspaceError> for ConsoleError {
    fn from(err: WorkspaceError) -> Self {
        match err {
            WorkspaceError::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                "tenant_not_found",
                "Workspace not found.",
            ),
            WorkspaceError::NotMember => Self::forbidden(),
            WorkspaceError::Db(err) => err.into(),
        }
    }
}

impl From<RegisterError> for ConsoleError {
    fn from(err: RegisterError) -> Self {
        match err {
            RegisterError::Closed => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Registration is not allowed.",
            ),
            RegisterError::Code(err) => err.into(),
            RegisterError::InvalidParam(message) => Self::invalid_param(message),
            RegisterError::PasswordMismatch => password_mismatch(),
            RegisterError::EmailInUse => Self::new(
                StatusCode::BAD_REQUEST,
                "email_already_in_use",
                "A user with this email already exists.",
            ),
            RegisterError::Session(err) => err.into(),
            RegisterError::Hash(err) => Self::internal(&err),
            RegisterError::Db(err) => err.into(),
        }
    }
}

impl From<ProfileError> for ConsoleError {
    fn from(err: ProfileError) -> Self {
        match err {
            ProfileError::InvalidParam(message) => Self::invalid_param(message),
            ProfileError::CurrentPasswordIncorrect => Self::new(
                StatusCode::BAD_REQUEST,
                "current_password_incorrect",
                "Current password is incorrect.",
            ),
            ProfileError::RepeatMismatch => Self::new(
                StatusCode::BAD_REQUEST,
                "repeat_password_not_match",
                "New password and repeat password does not match.",
            ),
            // The caller's account vanished mid-request: its token is no longer good.
            ProfileError::AccountGone => Self::unauthorized(),
            ProfileError::Session(err) => err.into(),
            ProfileError::Hash(err) => Self::internal(&err),
            ProfileError::Db(err) => err.into(),
        }
    }
}

impl From<CodeLoginError> for ConsoleError {
    fn from(err: CodeLoginError) -> Self {
        match err {
            CodeLoginError::Disabled => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Email code login is disabled.",
            ),
            CodeLoginError::Banned => Self::new(
                StatusCode::BAD_REQUEST,
                "account_banned",
                "Account is banned.",
            ),
            CodeLoginError::AccountNotFound => Self::new(
                StatusCode::BAD_REQUEST,
                "account_not_found",
                "Account not found.",
            ),
            CodeLoginError::Code(err) => err.into(),
            CodeLoginError::Session(err) => err.into(),
            CodeLoginError::Db(err) => err.into(),
        }
    }
}

impl From<MemberError> for ConsoleError {
    fn from(err: MemberError) -> Self {
        let bad = |code, message: &str| Self::new(StatusCode::BAD_REQUEST, code, message);
        match err {
            MemberError::NoWorkspace => Self::new(
                StatusCode::NOT_FOUND,
                "tenant_not_found",
                "Workspace not found.",
            ),
            MemberError::NotMember => Self::new(
                StatusCode::NOT_FOUND,
                "member_not_in_tenant",
                "The member is not in this workspace.",
            ),
            MemberError::Refused(MemberRefusal::Forbidden) => Self::forbidden(),
            MemberError::Refused(MemberRefusal::OwnMembership) => {
                bad("cannot_operate_self", "Cannot operate self.")
            }
            MemberError::Refused(MemberRefusal::OwnerRole) => bad("invalid_role", "Invalid role."),
            MemberError::SameRole => {
                bad("role_already_assigned", "The member already has this role.")
            }
            MemberError::Db(err) => err.into(),
        }
    }
}

impl From<EmailChangeError> for ConsoleError {
    fn from(err: EmailChangeError) -> Self {
        match err {
            EmailChangeError::InvalidEmail(message) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_email", message)
            }
            EmailChangeError::InUse => Self::new(
                StatusCode::BAD_REQUEST,
                "email_already_in_use",
                "A user with this email already exists.",
            ),
            EmailChangeError::AccountGone => Self::unauthorized(),
            EmailChangeError::Code(err) => err.into(),
            EmailChangeError::Db(err) => err.into(),
        }
    }
}

impl From<DeletionError> for ConsoleError {
    fn from(err: DeletionError) -> Self {
        match err {
            DeletionError::Refused(reason) => Self::new(StatusCode::CONFLICT, "conflict", reason),
            DeletionError::Code(err) => err.into(),
            DeletionError::Db(err) => err.into(),
        }
    }
}

impl From<TransferError> for ConsoleError {
    fn from(err: TransferError) -> Self {
        match err {
            TransferError::NotOwner => Self::new(
                StatusCode::BAD_REQUEST,
                "not_owner",
                "You are not the owner of the workspace.",
            ),
            TransferError::ToSelf => Self::new(
                StatusCode::BAD_REQUEST,
                "cannot_transfer_owner_to_self",
                "You cannot transfer ownership to yourself.",
            ),
            TransferError::Member(err) => err.into(),
            TransferError::Code(err) => err.into(),
            TransferError::Db(err) => err.into(),
        }
    }
}
