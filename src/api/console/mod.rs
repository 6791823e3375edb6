//! The console surface (`openapi/console.yaml`): one file per tag implements its trait.

mod access_token;
mod account;
mod audit;
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
use crate::api::generated::console::{GroupScope, Operation, Surface};
use crate::domain::session::{self, Session};
use crate::domain::setup as setup_domain;
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

    /// What every operation with a credential does first: the setup check and the token.
    /// A personal access token is held to its scope here, before any rule.
    async fn signed_in(
        &self,
        ctx: &RequestContext,
        op: Operation,
        credential: &str,
    ) -> Result<Session, ConsoleError> {
        if authz::rule(op) == Rule::NotBuilt {
            return Err(ConsoleError::not_implemented(op.operation_id()));
        }
        self.require_setup(op).await?;
        let session = session::authenticate(
            &self.state.authenticator(),
            self.state.clock.now(),
            credential,
            ctx.client_ip,
        )
        .await?;
        crate::audit::account(session.account.id, &session.account.email);
        if let Some(grant) = session.token {
            crate::audit::note("via_access_token_id", grant.id.to_string());
        }
        authz::admit_token(&session, op)?;
        Ok(session)
    }
}

impl Surface for ConsoleHandlers {
    type Context = RequestContext;
    type Principal = ConsolePrincipal;
    type GroupAccess = authz::GroupAccess;
    type CurrentGroupAccess = authz::CurrentGroupAccess;
    type AccountAccess = authz::AccountAccess;
    type WorkspaceAccess = authz::WorkspaceAccess;

    fn context(&self, request: &poem::Request) -> RequestContext {
        RequestContext::from_request(request, &self.state.trusted_proxies)
    }

    async fn admit(&self, _ctx: &RequestContext, op: Operation) -> poem::Result<()> {
        match authz::rule(op) {
            Rule::NotBuilt => Err(ConsoleError::not_implemented(op.operation_id()).into()),
            Rule::BeforeSetup | Rule::Public => Ok(self.require_setup(op).await?),
            // Every other rule needs a signed-in caller.
            _ => Err(authz::mismatch(op).into()),
        }
    }

    async fn authenticate(
        &self,
        ctx: &RequestContext,
        op: Operation,
        credential: &str,
    ) -> poem::Result<ConsolePrincipal> {
        let session = self.signed_in(ctx, op, credential).await?;
        authz::admit_caller(&self.state, &session, op).await?;
        Ok(session)
    }

    async fn authorize_group(
        &self,
        ctx: &RequestContext,
        op: Operation,
        credential: &str,
        scope: GroupScope,
    ) -> poem::Result<authz::GroupAccess> {
        let session = self.signed_in(ctx, op, credential).await?;
        Ok(authz::authorize_group(&self.state, session, op, scope).await?)
    }

    async fn authorize_current_group(
        &self,
        ctx: &RequestContext,
        op: Operation,
        credential: &str,
    ) -> poem::Result<authz::CurrentGroupAccess> {
        let session = self.signed_in(ctx, op, credential).await?;
        Ok(authz::authorize_current_group(&self.state, session, op).await?)
    }

    async fn authorize_account(
        &self,
        ctx: &RequestContext,
        op: Operation,
        credential: &str,
        account_id: uuid::Uuid,
    ) -> poem::Result<authz::AccountAccess> {
        let session = self.signed_in(ctx, op, credential).await?;
        Ok(authz::authorize_account(&self.state, session, op, account_id).await?)
    }

    async fn authorize_workspace(
        &self,
        ctx: &RequestContext,
        op: Operation,
        credential: &str,
        tenant_id: uuid::Uuid,
    ) -> poem::Result<authz::WorkspaceAccess> {
        let session = self.signed_in(ctx, op, credential).await?;
        Ok(authz::authorize_workspace(&self.state, session, op, tenant_id).await?)
    }
}
