//! The `Account` tag of the console surface.

use poem_openapi::payload::Json;

use super::views::{self, success};
use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{AccountApi, responses, schemas};
use crate::domain::profile::{self, Change};
use crate::domain::session::SignInMethod;
use crate::domain::{account_deletion, accounts, email_change, invitations, sign_ins};

impl ConsoleHandlers {
    /// One change to the caller's own profile, answered with the updated profile.
    async fn change_profile(
        &self,
        principal: &super::ConsolePrincipal,
        change: Change<'_>,
    ) -> Result<schemas::Account, ConsoleError> {
        let view = profile::update(
            &self.state.db,
            &self.state.accounts,
            self.state.clock.now(),
            principal.account.id,
            change,
        )
        .await?;
        Ok(views::account(&view))
    }
}

fn sign_in_method(method: SignInMethod) -> schemas::SignInMethod {
    match method {
        SignInMethod::Password => schemas::SignInMethod::Password,
        SignInMethod::EmailCode => schemas::SignInMethod::EmailCode,
        SignInMethod::Github => schemas::SignInMethod::Github,
        SignInMethod::Google => schemas::SignInMethod::Google,
        SignInMethod::Invitation => schemas::SignInMethod::Invitation,
        SignInMethod::Registration => schemas::SignInMethod::Registration,
        SignInMethod::PasswordReset => schemas::SignInMethod::PasswordReset,
    }
}

impl AccountApi for ConsoleHandlers {
    async fn update_account_name(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::AccountNameRequest,
    ) -> poem::Result<responses::UpdateAccountNameResponse> {
        let account = self
            .change_profile(&principal, Change::Name(&body.name))
            .await?;
        Ok(responses::UpdateAccountNameResponse::Ok(Json(account)))
    }

    async fn update_account_avatar(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::AccountAvatarRequest,
    ) -> poem::Result<responses::UpdateAccountAvatarResponse> {
        let account = self
            .change_profile(&principal, Change::Avatar(&body.avatar))
            .await?;
        Ok(responses::UpdateAccountAvatarResponse::Ok(Json(account)))
    }

    async fn update_account_interface_language(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::AccountInterfaceLanguageRequest,
    ) -> poem::Result<responses::UpdateAccountInterfaceLanguageResponse> {
        let change = Change::InterfaceLanguage(body.interface_language.as_str());
        let account = self.change_profile(&principal, change).await?;
        Ok(responses::UpdateAccountInterfaceLanguageResponse::Ok(Json(
            account,
        )))
    }

    async fn update_account_interface_theme(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::AccountInterfaceThemeRequest,
    ) -> poem::Result<responses::UpdateAccountInterfaceThemeResponse> {
        let change = Change::InterfaceTheme(body.interface_theme.as_str());
        let account = self.change_profile(&principal, change).await?;
        Ok(responses::UpdateAccountInterfaceThemeResponse::Ok(Json(
            account,
        )))
    }

    async fn update_account_timezone(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::AccountTimezoneRequest,
    ) -> poem::Result<responses::UpdateAccountTimezoneResponse> {
        let account = self
            .change_profile(&principal, Change::Timezone(&body.timezone))
            .await?;
        Ok(responses::UpdateAccountTimezoneResponse::Ok(Json(account)))
    }

    async fn change_account_password(
        &self,
        ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::ChangePasswordRequest,
    ) -> poem::Result<responses::ChangeAccountPasswordResponse> {
        let pair = profile::change_password(
            &self.state.db,
            &self.state.accounts,
            &self.state.hasher,
            &self.state.settings(),
            self.state.clock.now(),
            &principal,
            body.password,
            body.new_password,
            &body.repeat_new_password,
            &ctx.client(),
        )
        .await?;
        Ok(responses::ChangeAccountPasswordResponse::Ok(Json(
            views::token_pair(pair),
        )))
    }

    async fn list_account_sessions(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::ListAccountSessionsResponse> {
        let now = self.state.clock.now();
        let found = sign_ins::active(&self.state.db, principal.account.id, now)
            .await
            .map_err(ConsoleError::from)?;
        let data = found
            .into_iter()
            .map(|s| schemas::AccountSession {
                current: s.id == principal.family,
                id: s.id,
                created_at: s.signed_in_at,
                last_used_at: s.last_used_at,
                client_ip: s.client_ip,
                user_agent: s.user_agent,
                method: sign_in_method(s.method),
            })
            .collect();
        Ok(responses::ListAccountSessionsResponse::Ok(Json(
            schemas::AccountSessionList { data },
        )))
    }

    async fn end_account_session(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        session_id: ::uuid::Uuid,
    ) -> poem::Result<responses::EndAccountSessionResponse> {
        let ended = sign_ins::end(
            &self.state.db,
            &self.state.accounts,
            self.state.clock.now(),
            principal.account.id,
            session_id,
        )
        .await
        .map_err(ConsoleError::from)?;
        if !ended {
            return Err(ConsoleError::new(
                poem::http::StatusCode::NOT_FOUND,
                "session_not_found",
                "Session not found.",
            )
            .into());
        }
        Ok(responses::EndAccountSessionResponse::Ok(Json(success())))
    }

    async fn end_other_account_sessions(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::EndOtherAccountSessionsResponse> {
        sign_ins::end_others(
            &self.state.db,
            &self.state.accounts,
            self.state.clock.now(),
            principal.account.id,
            principal.family,
        )
        .await
        .map_err(ConsoleError::from)?;
        Ok(responses::EndOtherAccountSessionsResponse::Ok(Json(
            success(),
        )))
    }

    async fn register_account(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        body: schemas::RegisterAccountRequest,
    ) -> poem::Result<responses::RegisterAccountResponse> {
        accounts::register(
            &self.state.db,
            &self.state.accounts,
            &self.state.hasher,
            self.state.clock.now(),
            &body.email,
            &body.name,
            body.password,
        )
        .await?;
        Ok(responses::RegisterAccountResponse::Ok(Json(success())))
    }

    async fn get_account_profile(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::GetAccountProfileResponse> {
        Ok(responses::GetAccountProfileResponse::Ok(Json(
            views::account(&principal.view),
        )))
    }

    async fn get_account_ex_profile(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::GetAccountExProfileResponse> {
        Ok(responses::GetAccountExProfileResponse::Ok(Json(
            views::account_ex(&principal.view),
        )))
    }

    async fn list_accounts_ex(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListAccountsExResponse> {
        // The contract bounds both (page ≥ 1, limit 1–100) before this runs.
        let (page_n, limit_n) = (page.max(1) as u64, limit.clamp(1, 100) as u64);
        let found = accounts::list(&self.state.db, page_n, limit_n)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListAccountsExResponse::Ok(Json(
            schemas::AccountExPage {
                page,
                limit,
                total: found.total as i64,
                has_more: page_n * limit_n < found.total,
                data: found.items.iter().map(views::account_ex).collect(),
            },
        )))
    }

    async fn get_account_ex_by_email(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        email: String,
    ) -> poem::Result<responses::GetAccountExByEmailResponse> {
        let view = accounts::by_email(&self.state.db, &email).await?;
        Ok(responses::GetAccountExByEmailResponse::Ok(Json(
            views::account_ex(&view),
        )))
    }

    async fn get_account_ex_by_id(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        id: ::uuid::Uuid,
    ) -> poem::Result<responses::GetAccountExByIdResponse> {
        let view = accounts::by_id(&self.state.db, id).await?;
        Ok(responses::GetAccountExByIdResponse::Ok(Json(
            views::account_ex(&view),
        )))
    }

    async fn update_account_ex(
        &self,
        _ctx: Self::Context,
        access: Self::CurrentGroupAccess,
        id: ::uuid::Uuid,
        body: schemas::UpdateAccountExRequest,
    ) -> poem::Result<responses::UpdateAccountExResponse> {
        // Admitted: system admins, or the super_admin of the caller's current group (who
        // may change group_role only; the policy's account_edit says so).
        let changes = accounts::AccountChanges {
            name: body.name,
            avatar: body.avatar,
            status: body.status.map(Into::into),
            mobile: body.mobile,
            role_type: body.role_type.map(Into::into),
            group_role: body.group_role.map(Into::into),
        };
        let view = accounts::update(
            &self.state.db,
            &self.state.accounts,
            self.state.clock.now(),
            access.session(),
            id,
            changes,
        )
        .await?;
        Ok(responses::UpdateAccountExResponse::Ok(Json(
            views::account_ex(&view),
        )))
    }

    async fn update_account_role(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        id: ::uuid::Uuid,
        body: schemas::UpdateAccountRoleRequest,
    ) -> poem::Result<responses::UpdateAccountRoleResponse> {
        let changes = accounts::AccountChanges {
            role_type: Some(body.role_type.into()),
            ..Default::default()
        };
        let view = accounts::update(
            &self.state.db,
            &self.state.accounts,
            self.state.clock.now(),
            &principal,
            id,
            changes,
        )
        .await?;
        Ok(responses::UpdateAccountRoleResponse::Ok(Json(
            views::account_ex(&view),
        )))
    }

    async fn invite_members_by_email(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::InviteMembersRequest,
    ) -> poem::Result<responses::InviteMembersByEmailResponse> {
        let (tenant_id, outcomes) = invitations::invite(
            &self.state.db,
            &self.state.accounts,
            &self.state.mailer,
            &self.state.settings(),
            self.state.clock.now(),
            &principal,
            &body.emails,
            body.role.into(),
            body.language.as_deref(),
        )
        .await?;
        let invitation_results = outcomes
            .into_iter()
            .map(|o| schemas::InvitationResult {
                status: if o.invited {
                    schemas::InvitationStatus::Success
                } else {
                    schemas::InvitationStatus::Failed
                },
                email: o.email,
                // Dify returns the activation link here; this server mails it only
                // (`InviteOutcome`), so the field stays for Dify's clients and is null.
                url: None,
                message: o.message,
            })
            .collect();
        Ok(responses::InviteMembersByEmailResponse::Created(Json(
            schemas::InviteMembersResponse {
                result: "success".to_string(),
                invitation_results,
                tenant_id,
            },
        )))
    }

    async fn send_change_email_code(
        &self,
        ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::ChangeEmailSendRequest,
    ) -> poem::Result<responses::SendChangeEmailCodeResponse> {
        let phase = match body.phase {
            Some(schemas::ChangeEmailPhase::NewEmail) => email_change::Phase::New,
            Some(schemas::ChangeEmailPhase::OldEmail) | None => email_change::Phase::Old,
        };
        let token = email_change::send(
            &self.state.db,
            &self.state.mailer,
            &self.state.settings(),
            self.state.clock.now(),
            &principal,
            phase,
            &body.email,
            body.token.as_deref(),
            body.language.as_deref(),
            ctx.client_ip,
        )
        .await?;
        Ok(responses::SendChangeEmailCodeResponse::Ok(Json(
            views::email_token(token),
        )))
    }

    async fn check_change_email_code(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::EmailCodeValidityRequest,
    ) -> poem::Result<responses::CheckChangeEmailCodeResponse> {
        let email = email_change::check(
            &self.state.db,
            &self.state.settings(),
            self.state.clock.now(),
            &principal,
            &body.email,
            &body.code,
            &body.token,
        )
        .await?;
        Ok(responses::CheckChangeEmailCodeResponse::Ok(Json(
            views::code_checked(email, body.token),
        )))
    }

    async fn reset_account_email(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::ChangeEmailResetRequest,
    ) -> poem::Result<responses::ResetAccountEmailResponse> {
        let view = email_change::reset(
            &self.state.db,
            &self.state.accounts,
            &self.state.mailer,
            self.state.clock.now(),
            &principal,
            &body.new_email,
            &body.token,
        )
        .await?;
        Ok(responses::ResetAccountEmailResponse::Ok(Json(
            views::account(&view),
        )))
    }

    async fn check_email_unique(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        body: schemas::CheckEmailUniqueRequest,
    ) -> poem::Result<responses::CheckEmailUniqueResponse> {
        email_change::ensure_unused(&self.state.db, &body.email).await?;
        Ok(responses::CheckEmailUniqueResponse::Ok(Json(success())))
    }

    async fn send_delete_account_code(
        &self,
        ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::SendDeleteAccountCodeResponse> {
        let token = account_deletion::send(
            &self.state.db,
            &self.state.mailer,
            &self.state.settings(),
            self.state.clock.now(),
            &principal,
            ctx.client_ip,
        )
        .await?;
        Ok(responses::SendDeleteAccountCodeResponse::Ok(Json(
            views::email_token(token),
        )))
    }

    async fn delete_account(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::DeleteAccountRequest,
    ) -> poem::Result<responses::DeleteAccountResponse> {
        account_deletion::delete(
            &self.state.db,
            &self.state.accounts,
            &self.state.settings(),
            self.state.clock.now(),
            &principal,
            &body.token,
            &body.code,
        )
        .await?;
        Ok(responses::DeleteAccountResponse::Ok(Json(success())))
    }
}
