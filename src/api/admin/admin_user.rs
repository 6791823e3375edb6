//! The `AdminUser` tag of the admin surface.

use super::{AdminError, AdminHandlers};
use crate::api::generated::admin::{AdminUserApi, Operation, responses, schemas};

impl AdminUserApi for AdminHandlers {
    async fn list_users(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _page: i32,
        _per_page: i32,
    ) -> poem::Result<responses::ListUsersResponse> {
        Err(AdminError::not_implemented(Operation::ListUsers.operation_id()).into())
    }

    async fn get_user(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _id: i64,
    ) -> poem::Result<responses::GetUserResponse> {
        Err(AdminError::not_implemented(Operation::GetUser.operation_id()).into())
    }

    async fn create_user(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _body: schemas::CreateUserRequest,
    ) -> poem::Result<responses::CreateUserResponse> {
        Err(AdminError::not_implemented(Operation::CreateUser.operation_id()).into())
    }

    async fn update_user(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _body: schemas::UpdateUserRequest,
    ) -> poem::Result<responses::UpdateUserResponse> {
        Err(AdminError::not_implemented(Operation::UpdateUser.operation_id()).into())
    }

    async fn delete_user(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _id: i64,
    ) -> poem::Result<responses::DeleteUserResponse> {
        Err(AdminError::not_implemented(Operation::DeleteUser.operation_id()).into())
    }

    async fn cancel_user_2fa(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _id: i64,
    ) -> poem::Result<responses::CancelUser2faResponse> {
        Err(AdminError::not_implemented(Operation::CancelUser2fa.operation_id()).into())
    }

    async fn delete_user_cache(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _username: String,
    ) -> poem::Result<responses::DeleteUserCacheResponse> {
        Err(AdminError::not_implemented(Operation::DeleteUserCache.operation_id()).into())
    }

    async fn list_user_ssh_keys(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _uid: i64,
        _page: i32,
        _per_page: i32,
    ) -> poem::Result<responses::ListUserSshKeysResponse> {
        Err(AdminError::not_implemented(Operation::ListUserSshKeys.operation_id()).into())
    }

    async fn delete_user_ssh_key(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _id: i64,
    ) -> poem::Result<responses::DeleteUserSshKeyResponse> {
        Err(AdminError::not_implemented(Operation::DeleteUserSshKey.operation_id()).into())
    }
}
