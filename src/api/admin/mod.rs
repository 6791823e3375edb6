//! The AList-compatible admin surface (`openapi/admin.yaml`).

mod admin_user;
mod auth;
pub mod authz;
pub mod error;

use std::sync::Arc;

pub use error::AdminError;

use crate::api::context::RequestContext;
use crate::api::generated::admin::{Operation, Surface};
use crate::state::AppState;
use authz::Rule;

/// Implements every handler trait of the admin surface.
#[derive(Clone)]
pub struct AdminHandlers {
    pub state: Arc<AppState>,
}

/// The signed-in admin-surface user. Built out by the admin issue; nothing produces one yet.
#[derive(Debug, Clone)]
pub struct AdminPrincipal {
    pub user_id: i64,
}

impl Surface for AdminHandlers {
    type Context = RequestContext;
    type Principal = AdminPrincipal;

    fn context(&self, request: &poem::Request) -> RequestContext {
        RequestContext::from_request(request)
    }

    async fn admit(&self, _ctx: &RequestContext, op: Operation) -> poem::Result<()> {
        match authz::rule(op) {
            Rule::NotBuilt => Err(AdminError::not_implemented(op.operation_id()).into()),
        }
    }

    async fn authenticate(
        &self,
        _ctx: &RequestContext,
        op: Operation,
        _credential: &str,
    ) -> poem::Result<AdminPrincipal> {
        match authz::rule(op) {
            Rule::NotBuilt => Err(AdminError::not_implemented(op.operation_id()).into()),
        }
    }
}
