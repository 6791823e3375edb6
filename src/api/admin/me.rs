//! The `Me` tag of the admin surface: the caller's own profile and SSH keys.

use poem_openapi::payload::Json;

use super::{AdminHandlers, empty_ok, ssh_key_page};
use crate::api::generated::admin::{MeApi, responses, schemas};
use crate::domain::admin_users as users;

impl MeApi for AdminHandlers {
    async fn get_me(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::GetMeResponse> {
        let u = principal.user;
        Ok(responses::GetMeResponse::Ok(Json(schemas::MeResponse {
            code: 200,
            message: "success".into(),
            data: Some(schemas::Me {
                id: u.id,
                username: u.username,
                password: String::new(),
                base_path: u.base_path,
                role: u.role,
                disabled: u.disabled,
                permission: u.permission,
                sso_id: u.sso_id,
                otp: u.otp,
            }),
        })))
    }

    async fn update_me(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::UpdateMeRequest,
    ) -> poem::Result<responses::UpdateMeResponse> {
        let s = &self.state;
        users::update_me(
            &s.db,
            &s.admin.users,
            &s.hasher,
            s.clock.as_ref(),
            principal.user.id,
            body.username,
            body.password,
            body.sso_id,
        )
        .await?;
        Ok(responses::UpdateMeResponse::Ok(Json(empty_ok())))
    }

    async fn list_my_ssh_keys(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        page: i32,
        per_page: i32,
    ) -> poem::Result<responses::ListMySshKeysResponse> {
        let keys = users::list_ssh_keys(&self.state.db, principal.user.id, page, per_page).await?;
        Ok(responses::ListMySshKeysResponse::Ok(Json(ssh_key_page(
            keys,
        ))))
    }

    async fn add_my_ssh_key(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::AddSshKeyRequest,
    ) -> poem::Result<responses::AddMySshKeyResponse> {
        let s = &self.state;
        users::add_ssh_key(
            &s.db,
            s.clock.as_ref(),
            principal.user.id,
            &body.title,
            &body.key,
        )
        .await?;
        Ok(responses::AddMySshKeyResponse::Ok(Json(empty_ok())))
    }

    async fn delete_my_ssh_key(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        id: i64,
    ) -> poem::Result<responses::DeleteMySshKeyResponse> {
        users::delete_own_ssh_key(&self.state.db, principal.user.id, id).await?;
        Ok(responses::DeleteMySshKeyResponse::Ok(Json(empty_ok())))
    }
}
