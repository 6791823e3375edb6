//! The `AccessToken` tag of the console surface: personal access tokens.

use entity::access_token;
use poem_openapi::payload::Json;

use super::views::success;
use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{AccessTokenApi, responses, schemas};
use crate::domain::access_tokens::{self, NewToken, TokenScope};

fn scope_of(scope: schemas::AccessTokenScope) -> TokenScope {
    match scope {
        schemas::AccessTokenScope::Read => TokenScope::Read,
        schemas::AccessTokenScope::Write => TokenScope::Write,
    }
}

fn wire_scope(stored: &str) -> schemas::AccessTokenScope {
    match TokenScope::parse(stored) {
        TokenScope::Read => schemas::AccessTokenScope::Read,
        TokenScope::Write => schemas::AccessTokenScope::Write,
    }
}

fn view(row: access_token::Model) -> schemas::AccessToken {
    schemas::AccessToken {
        id: row.id,
        scope: wire_scope(&row.scope),
        name: row.name,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        last_used_ip: row.last_used_ip,
    }
}

fn list(rows: Vec<access_token::Model>) -> schemas::AccessTokenList {
    schemas::AccessTokenList {
        data: rows.into_iter().map(view).collect(),
    }
}

impl AccessTokenApi for ConsoleHandlers {
    async fn list_access_tokens(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::ListAccessTokensResponse> {
        let rows = access_tokens::list(&self.state.db, principal.account.id)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListAccessTokensResponse::Ok(Json(list(rows))))
    }

    async fn create_access_token(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::CreateAccessTokenRequest,
    ) -> poem::Result<responses::CreateAccessTokenResponse> {
        let new = NewToken {
            name: body.name,
            scope: scope_of(body.scope),
            expires_in_days: body.expires_in_days.map(i64::from),
        };
        let (row, token) = access_tokens::create(
            &self.state.db,
            self.state.clock.now(),
            self.state.auth.pat_max_days,
            principal.account.id,
            new,
        )
        .await?;
        crate::audit::target("access_token", row.id);
        let shown = view(row);
        Ok(responses::CreateAccessTokenResponse::Created(Json(
            schemas::CreatedAccessToken {
                id: shown.id,
                name: shown.name,
                scope: shown.scope,
                created_at: shown.created_at,
                expires_at: shown.expires_at,
                last_used_at: shown.last_used_at,
                last_used_ip: shown.last_used_ip,
                token,
            },
        )))
    }

    async fn revoke_all_access_tokens(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::RevokeAllAccessTokensResponse> {
        self.revoke_tokens(principal.account.id, None).await?;
        Ok(responses::RevokeAllAccessTokensResponse::Ok(
            Json(success()),
        ))
    }

    async fn revoke_access_token(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        token_id: ::uuid::Uuid,
    ) -> poem::Result<responses::RevokeAccessTokenResponse> {
        self.revoke_tokens(principal.account.id, Some(token_id))
            .await?;
        Ok(responses::RevokeAccessTokenResponse::Ok(Json(success())))
    }

    async fn list_account_access_tokens_ex(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        id: ::uuid::Uuid,
    ) -> poem::Result<responses::ListAccountAccessTokensExResponse> {
        let rows = access_tokens::list_of_account(&self.state.db, id).await?;
        Ok(responses::ListAccountAccessTokensExResponse::Ok(Json(
            list(rows),
        )))
    }

    async fn revoke_account_access_tokens_ex(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        id: ::uuid::Uuid,
        token_id: Option<::uuid::Uuid>,
    ) -> poem::Result<responses::RevokeAccountAccessTokensExResponse> {
        access_tokens::require_account(&self.state.db, id).await?;
        self.revoke_tokens(id, token_id).await?;
        Ok(responses::RevokeAccountAccessTokensExResponse::Ok(Json(
            success(),
        )))
    }
}

impl ConsoleHandlers {
    async fn revoke_tokens(
        &self,
        account_id: uuid::Uuid,
        token_id: Option<uuid::Uuid>,
    ) -> Result<(), ConsoleError> {
        access_tokens::revoke(
            &self.state.db,
            &self.state.access_tokens,
            self.state.clock.now(),
            account_id,
            token_id,
        )
        .await?;
        Ok(())
    }
}
