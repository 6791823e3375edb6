//! Who may call each admin operation: the one table every request is checked against.
//! `docs/authz.md` is its prose form. The match is exhaustive, so an operation added to
//! the spec does not compile until it has a rule here.

use crate::api::generated::admin::Operation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Routed, but answers code 501 `not built yet` until its issue lands.
    NotBuilt,
}

pub fn rule(op: Operation) -> Rule {
    use Operation::*;
    match op {
        ListUsers | GetUser | CreateUser | UpdateUser | DeleteUser | CancelUser2fa
        | DeleteUserCache | ListUserSshKeys | DeleteUserSshKey | Login => Rule::NotBuilt,
    }
}
