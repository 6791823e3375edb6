//! The `AdminUser` tag of the admin surface: AList's `/api/admin/user/*`.

use poem_openapi::payload::Json;

use super::{AdminError, AdminHandlers, empty_ok, ssh_key_page, user_out};
use crate::api::generated::admin::{AdminUserApi, responses, schemas};
use crate::domain::admin_users::{self as users, NewUser, UserChanges};

impl AdminUserApi for AdminHandlers {
    async fn list_users(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        page: i32,
        per_page: Option<i32>,
    ) -> poem::Result<responses::ListUsersResponse> {
        let (rows, total) = users::list_users(&self.state.db, page, per_page)
            .await
            .map_err(AdminError::from)?;
        Ok(responses::ListUsersResponse::Ok(Json(
            schemas::UserPageResponse {
                code: 200,
                message: "success".into(),
                data: Some(schemas::UserPage {
                    content: rows.into_iter().map(user_out).collect(),
                    total,
                }),
            },
        )))
    }

    async fn get_user(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        id: i64,
    ) -> poem::Result<responses::GetUserResponse> {
        let user = users::get_user(&self.state.db, id)
            .await
            .map_err(AdminError::from)?;
        Ok(responses::GetUserResponse::Ok(Json(
            schemas::UserResponse {
                code: 200,
                message: "success".into(),
                data: Some(user_out(user)),
            },
        )))
    }

    async fn create_user(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        body: schemas::CreateUserRequest,
    ) -> poem::Result<responses::CreateUserResponse> {
        let s = &self.state;
        users::create_user(
            &s.db,
            &s.hasher,
            s.clock.as_ref(),
            NewUser {
                username: body.username,
                password: body.password.unwrap_or_default(),
                base_path: body.base_path.unwrap_or_default(),
                role: body.role.unwrap_or(users::ROLE_GENERAL),
                permission: body.permission.unwrap_or(0),
                disabled: body.disabled.unwrap_or(false),
                sso_id: body.sso_id.unwrap_or_default(),
            },
        )
        .await
        .map_err(AdminError::from)?;
        Ok(responses::CreateUserResponse::Ok(Json(empty_ok())))
    }

    async fn update_user(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        body: schemas::UpdateUserRequest,
    ) -> poem::Result<responses::UpdateUserResponse> {
        let s = &self.state;
        let stale = users::update_user(
            &s.db,
            &s.hasher,
            s.clock.as_ref(),
            UserChanges {
                id: body.id,
                username: body.username,
                password: body.password,
                base_path: body.base_path,
                role: body.role,
                permission: body.permission,
                disabled: body.disabled,
                sso_id: body.sso_id,
            },
        )
        .await
        .map_err(AdminError::from)?;
        self.forget(&stale).await?;
        Ok(responses::UpdateUserResponse::Ok(Json(empty_ok())))
    }

    async fn delete_user(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        id: i64,
    ) -> poem::Result<responses::DeleteUserResponse> {
        let username = users::delete_user(&self.state.db, id)
            .await
            .map_err(AdminError::from)?;
        self.forget(&[username]).await?;
        Ok(responses::DeleteUserResponse::Ok(Json(empty_ok())))
    }

    async fn cancel_user_2fa(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        id: i64,
    ) -> poem::Result<responses::CancelUser2faResponse> {
        let username = users::cancel_2fa(&self.state.db, id)
            .await
            .map_err(AdminError::from)?;
        self.forget(&[username]).await?;
        Ok(responses::CancelUser2faResponse::Ok(Json(empty_ok())))
    }

    async fn delete_user_cache(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        username: String,
    ) -> poem::Result<responses::DeleteUserCacheResponse> {
        if username.is_empty() {
            return Err(AdminError::from(users::AdminUserError::UsernameEmpty).into());
        }
        users::find_by_username(&self.state.db, &username)
            .await
            .map_err(AdminError::from)?
            .ok_or_else(|| AdminError::from(users::AdminUserError::NotFound))?;
        self.forget(&[username]).await?;
        Ok(responses::DeleteUserCacheResponse::Ok(Json(empty_ok())))
    }

    async fn list_user_ssh_keys(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        uid: i64,
        page: i32,
        per_page: i32,
    ) -> poem::Result<responses::ListUserSshKeysResponse> {
        let (keys, total) = users::list_user_ssh_keys(&self.state.db, uid, page, per_page)
            .await
            .map_err(AdminError::from)?;
        Ok(responses::ListUserSshKeysResponse::Ok(Json(ssh_key_page(
            keys, total,
        ))))
    }

    async fn delete_user_ssh_key(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        id: i64,
    ) -> poem::Result<responses::DeleteUserSshKeyResponse> {
        users::delete_ssh_key(&self.state.db, id)
            .await
            .map_err(AdminError::from)?;
        Ok(responses::DeleteUserSshKeyResponse::Ok(Json(empty_ok())))
    }
}
