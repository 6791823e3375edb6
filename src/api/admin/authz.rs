//! Who may call each admin operation: the one table every request is checked against.
//! `docs/authz.md` is its prose form. The match is exhaustive, so an operation added to
//! the spec does not compile until it has a rule here.

use crate::api::generated::admin::Operation;
use crate::domain::admin_users::User;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No credential needed (sign-in).
    Public,
    /// Any signed-in user, or the guest while the guest is enabled.
    AnyUser,
    /// Any signed-in user but the guest, who gets `code` with `message` (AList's texts
    /// differ per route).
    NotGuest { code: u16, message: &'static str },
    /// The admin only; everyone else gets 403 `You are not an admin`.
    Admin,
}

pub const NOT_ADMIN: &str = "You are not an admin";

pub fn rule(op: Operation) -> Rule {
    use Operation::*;
    match op {
        ListUsers | GetUser | CreateUser | UpdateUser | DeleteUser | CancelUser2fa
        | DeleteUserCache | ListUserSshKeys | DeleteUserSshKey | ListAdminAuditEvents => {
            Rule::Admin
        }
        Login | LoginHash | GetPublicSettings | ListOfflineDownloadTools => Rule::Public,
        Logout | GetMe | FsGet | FsList | FsDirs => Rule::AnyUser,
        UpdateMe => Rule::NotGuest {
            code: 403,
            message: "Guest user can not update profile",
        },
        Generate2fa | Verify2fa => Rule::NotGuest {
            code: 403,
            message: "Guest user can not generate 2FA code",
        },
        ListMySshKeys | AddMySshKey | DeleteMySshKey => Rule::NotGuest {
            code: 401,
            message: "user invalid",
        },
    }
}

/// Whether a call of `op` is written to the audit trail: every operation that changes
/// state (sign-ins included), not the reads.
pub fn audited(op: Operation) -> bool {
    use Operation::*;
    match op {
        Logout => true,
        FsGet | FsList | FsDirs => false,
        _ => op.method() != "GET",
    }
}

/// Whether `user` (already authenticated, enabled) may run an operation under `rule`;
/// the refusal's `code` and message otherwise.
pub fn check(rule: Rule, user: &User) -> Result<(), (u16, &'static str)> {
    match rule {
        Rule::Public | Rule::AnyUser => Ok(()),
        Rule::NotGuest { code, message } if user.is_guest() => Err((code, message)),
        Rule::NotGuest { .. } => Ok(()),
        Rule::Admin if user.is_admin() => Ok(()),
        Rule::Admin => Err((403, NOT_ADMIN)),
    }
}

/// AList's text when `fs/dirs` is asked for the storage's root (`force_root`) by someone
/// other than the admin.
pub const FORCE_ROOT_DENIED: &str = "Permission denied";

/// `fs/dirs` (rule `AnyUser`) with `force_root`: the path is from the storage's root
/// rather than the caller's base path, which only the admin may ask (AList's rule).
pub fn admit_force_root(user: &User) -> Result<(), (u16, &'static str)> {
    if user.is_admin() {
        Ok(())
    } else {
        Err((403, FORCE_ROOT_DENIED))
    }
}
