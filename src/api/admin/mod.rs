//! The AList-compatible admin surface (`openapi/admin.yaml`).

mod admin_user;
mod auth;
pub mod authz;
pub mod error;
mod fs;
mod me;
mod public;

use std::sync::Arc;

pub use error::AdminError;

use crate::api::context::RequestContext;
use crate::api::generated::admin::{Operation, Surface, schemas};
use crate::domain::admin_users::{self, SshKey, TokenProblem, User};
use crate::domain::paging::Page;
use crate::state::AppState;
use authz::Rule;

/// Implements every handler trait of the admin surface.
#[derive(Clone)]
pub struct AdminHandlers {
    pub state: Arc<AppState>,
}

/// The caller of an operation with a security requirement: a signed-in user (with the
/// token it sent), or the enabled guest (no token).
#[derive(Debug, Clone)]
pub struct AdminPrincipal {
    pub user: User,
    pub token: Option<SignedToken>,
}

/// The token a request was signed in with (for logout).
#[derive(Clone)]
pub struct SignedToken {
    pub raw: String,
    pub exp: i64,
}

impl std::fmt::Debug for SignedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedToken")
            .field("raw", &"<redacted>")
            .field("exp", &self.exp)
            .finish()
    }
}

const GUEST_DISABLED: &str = "Guest user is disabled, login please";
const TOKEN_INVALIDATED: &str = "token is invalidated";

impl AdminHandlers {
    /// Resolves the `Authorization` header (raw JWT, or empty for the guest) into a user,
    /// in AList's order: guest, signature and times, revocation, user, password time,
    /// disabled.
    async fn identify(&self, credential: &str) -> Result<AdminPrincipal, AdminError> {
        let state = &self.state;
        let credential = credential.trim();
        if credential.is_empty() {
            return match admin_users::guest(&state.db).await? {
                Some(g) if !g.disabled => Ok(AdminPrincipal {
                    user: g,
                    token: None,
                }),
                _ => Err(AdminError::new(401, GUEST_DISABLED)),
            };
        }
        let claims = admin_users::decode_token(&state.secret, credential, state.clock.now())
            .map_err(|p| match p {
                TokenProblem::Invalid => AdminError::new(401, TOKEN_INVALIDATED),
                TokenProblem::Expired => AdminError::new(401, "token is expired"),
                TokenProblem::NotYetValid => AdminError::new(401, "token not active yet"),
            })?;
        if admin_users::is_revoked(&state.db, credential).await? {
            return Err(AdminError::new(401, TOKEN_INVALIDATED));
        }
        let user = admin_users::cached_user(&state.db, &state.admin.users, &claims.username)
            .await?
            .ok_or_else(|| AdminError::new(401, TOKEN_INVALIDATED))?;
        if claims.pwd_ts != user.pwd_ts {
            return Err(AdminError::new(
                401,
                "Password has been changed, login please",
            ));
        }
        if user.disabled {
            return Err(AdminError::new(
                401,
                "Current user is disabled, replace please",
            ));
        }
        Ok(AdminPrincipal {
            user,
            token: Some(SignedToken {
                raw: credential.to_string(),
                exp: claims.exp,
            }),
        })
    }
}

impl Surface for AdminHandlers {
    type Context = RequestContext;
    type Principal = AdminPrincipal;

    fn context(&self, request: &poem::Request) -> RequestContext {
        RequestContext::from_request(request, &self.state.trusted_proxies)
    }

    async fn admit(&self, _ctx: &RequestContext, op: Operation) -> poem::Result<()> {
        match authz::rule(op) {
            Rule::Public => Ok(()),
            rule => Err(AdminError::internal(&format!(
                "{} has rule {rule:?} but no security requirement",
                op.operation_id()
            ))
            .into()),
        }
    }

    async fn authenticate(
        &self,
        _ctx: &RequestContext,
        op: Operation,
        credential: &str,
    ) -> poem::Result<AdminPrincipal> {
        let rule = authz::rule(op);
        let principal = self.identify(credential).await?;
        crate::audit::actor(crate::audit::Actor::AdminUser {
            id: principal.user.id,
            username: principal.user.username.clone(),
        });
        authz::check(rule, &principal.user).map_err(|(code, msg)| AdminError::new(code, msg))?;
        Ok(principal)
    }
}

fn user_out(u: User) -> schemas::User {
    schemas::User {
        id: u.id,
        username: u.username,
        password: String::new(),
        base_path: u.base_path,
        role: u.role,
        disabled: u.disabled,
        permission: u.permission,
        sso_id: u.sso_id,
    }
}

fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn ssh_key_out(k: SshKey) -> schemas::SshKey {
    schemas::SshKey {
        id: k.id,
        title: k.title,
        fingerprint: k.fingerprint,
        added_time: rfc3339(k.added_time),
        last_used_time: rfc3339(k.last_used_time),
    }
}

/// A list's total as AList's wire carries it.
fn total(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn ssh_key_page(keys: Page<SshKey>) -> schemas::SshKeyListResponse {
    schemas::SshKeyListResponse {
        code: 200,
        message: "success".into(),
        data: Some(schemas::SshKeyPage {
            content: keys.items.into_iter().map(ssh_key_out).collect(),
            total: total(keys.total),
        }),
    }
}

fn empty_ok() -> schemas::EmptyResponse {
    schemas::EmptyResponse {
        code: 200,
        message: "success".into(),
        data: None,
    }
}
