//! The `Account` tag of the console surface.

use poem_openapi::payload::Json;

use super::views::{self, success};
use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{AccountApi, Operation, responses, schemas};
use crate::domain::accounts;

impl AccountApi for ConsoleHandlers {
    async fn register_account(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        body: schemas::RegisterAccountRequest,
    ) -> poem::Result<responses::RegisterAccountResponse> {
        accounts::register(&self.state, &body.email, &body.name, body.password)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::RegisterAccountResponse::Ok(Json(success())))
    }

    async fn get_account_profile(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::GetAccountProfileResponse> {
        let view = accounts::view(&self.state.db, principal.account)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::GetAccountProfileResponse::Ok(Json(
            views::account(&view),
        )))
    }

    async fn get_account_ex_profile(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::GetAccountExProfileResponse> {
        let view = accounts::view(&self.state.db, principal.account)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::GetAccountExProfileResponse::Ok(Json(
            views::account_ex(&view),
        )))
    }

    async fn list_accounts_ex(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _page: i32,
        _limit: i32,
    ) -> poem::Result<responses::ListAccountsExResponse> {
        Err(ConsoleError::not_implemented(Operation::ListAccountsEx.operation_id()).into())
    }

    async fn get_account_ex_by_email(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _email: String,
    ) -> poem::Result<responses::GetAccountExByEmailResponse> {
        Err(ConsoleError::not_implemented(Operation::GetAccountExByEmail.operation_id()).into())
    }

    async fn get_account_ex_by_id(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _id: ::uuid::Uuid,
    ) -> poem::Result<responses::GetAccountExByIdResponse> {
        Err(ConsoleError::not_implemented(Operation::GetAccountExById.operation_id()).into())
    }

    async fn update_account_ex(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _id: ::uuid::Uuid,
        _body: schemas::UpdateAccountExRequest,
    ) -> poem::Result<responses::UpdateAccountExResponse> {
        Err(ConsoleError::not_implemented(Operation::UpdateAccountEx.operation_id()).into())
    }

    async fn update_account_role(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _id: ::uuid::Uuid,
        _body: schemas::UpdateAccountRoleRequest,
    ) -> poem::Result<responses::UpdateAccountRoleResponse> {
        Err(ConsoleError::not_implemented(Operation::UpdateAccountRole.operation_id()).into())
    }

    async fn invite_members_by_email(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _body: schemas::InviteMembersRequest,
    ) -> poem::Result<responses::InviteMembersByEmailResponse> {
        Err(ConsoleError::not_implemented(Operation::InviteMembersByEmail.operation_id()).into())
    }
}
