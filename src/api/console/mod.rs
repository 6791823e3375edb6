//! The console surface (`openapi/console.yaml`): one file per tag implements its trait.

mod account;
mod auth;
pub mod authz;
mod enterprise_group;
pub mod error;
mod setup;
mod views;
mod workspace;

use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use error::ConsoleError;

use crate::api::context::RequestContext;
use crate::api::generated::console::{Operation, Surface};
use crate::domain::session::{self, Session};
use crate::domain::setup as setup_domain;
use crate::domain::workspaces;
use crate::state::AppState;
use authz::Rule;

/// Implements every handler trait of the console surface.
#[derive(Clone)]
pub struct ConsoleHandlers {
    pub state: Arc<AppState>,
}

/// The signed-in caller handed to every operation that needs one.
pub type ConsolePrincipal = Session;

impl ConsoleHandlers {
    /// Before setup has finished, only the setup operations answer (401 `not_setup`).
    async fn require_setup(&self, op: Operation) -> Result<(), ConsoleError> {
        if authz::rule(op) == Rule::BeforeSetup || self.state.setup_done.load(Ordering::Relaxed) {
            return Ok(());
        }
        if setup_domain::finished_at(&self.state.db).await?.is_some() {
            self.state.setup_done.store(true, Ordering::Relaxed);
            Ok(())
        } else {
            Err(ConsoleError::not_setup())
        }
    }
}

impl Surface for ConsoleHandlers {
    type Context = RequestContext;
    type Principal = ConsolePrincipal;

    fn context(&self, request: &poem::Request) -> RequestContext {
        RequestContext::from_request(request, &self.state.trusted_proxies)
    }

    async fn admit(&self, _ctx: &RequestContext, op: Operation) -> poem::Result<()> {
        match authz::rule(op) {
            Rule::NotBuilt => Err(ConsoleError::not_implemented(op.operation_id()).into()),
            Rule::BeforeSetup | Rule::Public => Ok(self.require_setup(op).await?),
            // Every other rule needs a signed-in caller.
            _ => Err(mismatch(op).into()),
        }
    }

    async fn authenticate(
        &self,
        _ctx: &RequestContext,
        op: Operation,
        credential: &str,
    ) -> poem::Result<ConsolePrincipal> {
        let rule = authz::rule(op);
        if rule == Rule::NotBuilt {
            return Err(ConsoleError::not_implemented(op.operation_id()).into());
        }
        self.require_setup(op).await?;
        let session = session::authenticate(&self.state, credential)
            .await
            .map_err(ConsoleError::from)?;
        match rule {
            Rule::SignedIn => Ok(session),
            // Decided by the handler through `authz::admit_*` with the ids it was given.
            scoped if scoped.is_scoped() => Ok(session),
            Rule::SystemAdmin if session.is_system_admin() => Ok(session),
            Rule::SuperAdmin if session.role_type == "super_admin" => Ok(session),
            Rule::SystemAdmin | Rule::SuperAdmin => Err(ConsoleError::forbidden().into()),
            Rule::WorkspaceAdmin => {
                let current = workspaces::current(&self.state.db, session.account.id)
                    .await
                    .map_err(ConsoleError::from)?;
                match current {
                    Some((_, membership)) if workspaces::manages_members(&membership.role) => {
                        Ok(session)
                    }
                    _ => Err(ConsoleError::forbidden().into()),
                }
            }
            Rule::DatasetEditor => {
                let current = workspaces::current(&self.state.db, session.account.id)
                    .await
                    .map_err(ConsoleError::from)?;
                match current {
                    Some((_, membership)) if workspaces::manages_datasets(&membership) => {
                        Ok(session)
                    }
                    _ => Err(ConsoleError::forbidden().into()),
                }
            }
            _ => Err(mismatch(op).into()),
        }
    }
}

/// The table and the spec disagree about whether `op` needs a credential; the authz test
/// keeps them in step, so this is a build defect, answered as an internal error.
fn mismatch(op: Operation) -> ConsoleError {
    ConsoleError::internal(&format!(
        "{}: the authz rule does not match the spec's security requirement",
        op.operation_id()
    ))
}
