//! The console surface (`openapi/console.yaml`): one file per tag implements its trait.

mod account;
mod auth;
pub mod authz;
mod enterprise_group;
pub mod error;
mod setup;

use std::sync::Arc;

pub use error::ConsoleError;

use crate::api::context::RequestContext;
use crate::api::generated::console::{Operation, Surface};
use crate::state::AppState;
use authz::Rule;

/// Implements every handler trait of the console surface.
#[derive(Clone)]
pub struct ConsoleHandlers {
    pub state: Arc<AppState>,
}

/// The signed-in caller. Built out by the sign-in issue; nothing produces one yet.
#[derive(Debug, Clone)]
pub struct ConsolePrincipal {
    pub account_id: uuid::Uuid,
}

impl Surface for ConsoleHandlers {
    type Context = RequestContext;
    type Principal = ConsolePrincipal;

    fn context(&self, request: &poem::Request) -> RequestContext {
        RequestContext::from_request(request)
    }

    async fn admit(&self, _ctx: &RequestContext, op: Operation) -> poem::Result<()> {
        match authz::rule(op) {
            Rule::Public => Ok(()),
            Rule::NotBuilt => Err(ConsoleError::not_implemented(op.operation_id()).into()),
        }
    }

    async fn authenticate(
        &self,
        _ctx: &RequestContext,
        op: Operation,
        _credential: &str,
    ) -> poem::Result<ConsolePrincipal> {
        match authz::rule(op) {
            Rule::NotBuilt => Err(ConsoleError::not_implemented(op.operation_id()).into()),
            // A public operation never reaches authentication; the authz test keeps the
            // table and the spec's security requirements in step.
            Rule::Public => Err(ConsoleError::internal(&format!(
                "{} is public in the authz table but has a security requirement",
                op.operation_id()
            ))
            .into()),
        }
    }
}
