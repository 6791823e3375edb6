//! The `AdminUser` tag of the admin surface: AList's `/api/admin/user/*`.

use poem_openapi::payload::Json;

use super::{AdminError, AdminHandlers, empty_ok, ssh_key_page, user_out};
use crate::api::generated::admin::{AdminUserApi, responses, schemas};
use crate::domain::admin_users::{self as users, NewUser, UserChanges};
use crate::domain::audit_events::{self, AuditQueryError, Filter};

/// An event as the export writes it, in this surface's schema (one JSON form for all).
fn event_out(e: &entity::audit_event::Model) -> Result<schemas::AuditEvent, AdminError> {
    use poem_openapi::types::ParseFromJSON;
    schemas::AuditEvent::parse_from_json(Some(audit_events::to_json(e)))
        .map_err(|err| AdminError::internal(&err.into_message()))
}

impl AdminUserApi for AdminHandlers {
    async fn list_admin_audit_events(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        actor: Option<String>,
        target_kind: Option<String>,
        target_id: Option<String>,
        operation_id: Option<String>,
        outcome: Option<String>,
        since: Option<i64>,
        until: Option<i64>,
        cursor: Option<String>,
        limit: i32,
    ) -> poem::Result<responses::ListAdminAuditEventsResponse> {
        let filter = Filter {
            surface: Some("admin"),
            actor,
            target_kind,
            target_id,
            operation_id,
            outcome,
            since,
            until,
            groups: None,
        };
        let limit = u64::try_from(limit.clamp(1, 100)).unwrap_or(20);
        let page = audit_events::page(&self.state.db, &filter, cursor.as_deref(), limit)
            .await
            .map_err(|err| match err {
                AuditQueryError::BadCursor => AdminError::new(400, err.to_string()),
                AuditQueryError::Db(err) => AdminError::from(err),
            })?;
        Ok(responses::ListAdminAuditEventsResponse::Ok(Json(
            schemas::AuditEventPageResponse {
                code: 200,
                message: "success".into(),
                data: Some(schemas::AuditEventPage {
                    content: page
                        .events
                        .iter()
                        .map(event_out)
                        .collect::<Result<_, _>>()?,
                    next_cursor: page.next_cursor,
                }),
            },
        )))
    }

    async fn list_users(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        page: i32,
        per_page: Option<i32>,
    ) -> poem::Result<responses::ListUsersResponse> {
        let found = users::list_users(&self.state.db, page, per_page).await?;
        Ok(responses::ListUsersResponse::Ok(Json(
            schemas::UserPageResponse {
                code: 200,
                message: "success".into(),
                data: Some(schemas::UserPage {
                    content: found.items.into_iter().map(user_out).collect(),
                    total: super::total(found.total),
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
        let user = users::get_user(&self.state.db, id).await?;
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
        .map_err(AdminError::from)
        .inspect(|user| crate::audit::target("admin_user", user.id))?;
        Ok(responses::CreateUserResponse::Ok(Json(empty_ok())))
    }

    async fn update_user(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        body: schemas::UpdateUserRequest,
    ) -> poem::Result<responses::UpdateUserResponse> {
        let s = &self.state;
        users::update_user(
            &s.db,
            &s.admin.users,
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
        .await?;
        Ok(responses::UpdateUserResponse::Ok(Json(empty_ok())))
    }

    async fn delete_user(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        id: i64,
    ) -> poem::Result<responses::DeleteUserResponse> {
        users::delete_user(&self.state.db, &self.state.admin.users, id).await?;
        Ok(responses::DeleteUserResponse::Ok(Json(empty_ok())))
    }

    async fn cancel_user_2fa(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        id: i64,
    ) -> poem::Result<responses::CancelUser2faResponse> {
        users::cancel_2fa(&self.state.db, &self.state.admin.users, id).await?;
        Ok(responses::CancelUser2faResponse::Ok(Json(empty_ok())))
    }

    async fn delete_user_cache(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        username: String,
    ) -> poem::Result<responses::DeleteUserCacheResponse> {
        users::forget_user(&self.state.db, &self.state.admin.users, &username).await?;
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
        let keys = users::list_user_ssh_keys(&self.state.db, uid, page, per_page).await?;
        Ok(responses::ListUserSshKeysResponse::Ok(Json(ssh_key_page(
            keys,
        ))))
    }

    async fn delete_user_ssh_key(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        id: i64,
    ) -> poem::Result<responses::DeleteUserSshKeyResponse> {
        users::delete_ssh_key(&self.state.db, id).await?;
        Ok(responses::DeleteUserSshKeyResponse::Ok(Json(empty_ok())))
    }
}
