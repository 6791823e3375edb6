//! The `Auth` tag of the console surface.

use poem_openapi::payload::Json;

use super::views::{success, token_pair};
use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{AuthApi, Operation, responses, schemas};
use crate::domain::{invitations, session};

impl AuthApi for ConsoleHandlers {
    async fn login(
        &self,
        ctx: Self::Context,
        body: schemas::LoginRequest,
    ) -> poem::Result<responses::LoginResponse> {
        if let Some(token) = body.invite_token.as_deref().filter(|t| !t.is_empty()) {
            let accepted = invitations::sign_in_with_invitation(
                &self.state,
                &body.email,
                &body.password,
                token,
            )
            .await
            .map_err(ConsoleError::from)?;
            if let Some(pair) = accepted {
                return Ok(responses::LoginResponse::Ok(Json(token_pair(pair))));
            }
        }
        let pair = session::login(&self.state, &body.email, body.password, ctx.client_ip)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::LoginResponse::Ok(Json(token_pair(pair))))
    }

    async fn check_activation(
        &self,
        _ctx: Self::Context,
        workspace_id: Option<::uuid::Uuid>,
        email: String,
        token: String,
    ) -> poem::Result<responses::CheckActivationResponse> {
        let found = invitations::check(&self.state, &token, Some(&email), workspace_id)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::CheckActivationResponse::Ok(Json(
            schemas::ActivationCheckResponse {
                is_valid: found.is_some(),
                data: found.map(|(workspace_name, workspace_id, email)| {
                    schemas::ActivationCheckData {
                        workspace_name,
                        workspace_id,
                        email,
                    }
                }),
            },
        )))
    }

    async fn activate(
        &self,
        _ctx: Self::Context,
        body: schemas::ActivateRequest,
    ) -> poem::Result<responses::ActivateResponse> {
        let pair = invitations::activate(
            &self.state,
            invitations::Activation {
                token: &body.token,
                email: body.email.as_deref(),
                workspace_id: body.workspace_id,
                name: &body.name,
                interface_language: &body.interface_language,
                timezone: &body.timezone,
            },
        )
        .await
        .map_err(ConsoleError::from)?;
        Ok(responses::ActivateResponse::Ok(Json(token_pair(pair))))
    }

    async fn send_forgot_password_email(
        &self,
        _ctx: Self::Context,
        _body: schemas::SendEmailCodeRequest,
    ) -> poem::Result<responses::SendForgotPasswordEmailResponse> {
        Err(ConsoleError::not_implemented(Operation::SendForgotPasswordEmail.operation_id()).into())
    }

    async fn check_forgot_password_code(
        &self,
        _ctx: Self::Context,
        _body: schemas::EmailCodeValidityRequest,
    ) -> poem::Result<responses::CheckForgotPasswordCodeResponse> {
        Err(ConsoleError::not_implemented(Operation::CheckForgotPasswordCode.operation_id()).into())
    }

    async fn reset_password(
        &self,
        _ctx: Self::Context,
        _body: schemas::ResetPasswordRequest,
    ) -> poem::Result<responses::ResetPasswordResponse> {
        Err(ConsoleError::not_implemented(Operation::ResetPassword.operation_id()).into())
    }

    async fn send_register_email(
        &self,
        _ctx: Self::Context,
        _body: schemas::SendEmailCodeRequest,
    ) -> poem::Result<responses::SendRegisterEmailResponse> {
        Err(ConsoleError::not_implemented(Operation::SendRegisterEmail.operation_id()).into())
    }

    async fn check_register_code(
        &self,
        _ctx: Self::Context,
        _body: schemas::EmailCodeValidityRequest,
    ) -> poem::Result<responses::CheckRegisterCodeResponse> {
        Err(ConsoleError::not_implemented(Operation::CheckRegisterCode.operation_id()).into())
    }

    async fn finish_register(
        &self,
        _ctx: Self::Context,
        _body: schemas::FinishRegisterRequest,
    ) -> poem::Result<responses::FinishRegisterResponse> {
        Err(ConsoleError::not_implemented(Operation::FinishRegister.operation_id()).into())
    }

    async fn oauth_login(
        &self,
        _ctx: Self::Context,
        _provider: schemas::OAuthProvider,
        _invite_token: Option<String>,
    ) -> poem::Result<responses::OauthLoginResponse> {
        Err(ConsoleError::not_implemented(Operation::OauthLogin.operation_id()).into())
    }

    async fn oauth_authorize(
        &self,
        _ctx: Self::Context,
        _provider: schemas::OAuthProvider,
        _code: String,
        _state: Option<String>,
    ) -> poem::Result<responses::OauthAuthorizeResponse> {
        Err(ConsoleError::not_implemented(Operation::OauthAuthorize.operation_id()).into())
    }

    async fn refresh_token(
        &self,
        _ctx: Self::Context,
        body: schemas::RefreshTokenRequest,
    ) -> poem::Result<responses::RefreshTokenResponse> {
        let pair = session::refresh(&self.state, &body.refresh_token)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::RefreshTokenResponse::Ok(Json(token_pair(pair))))
    }

    async fn logout(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::LogoutResponse> {
        session::revoke_family(&self.state, principal.family)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::LogoutResponse::Ok(Json(success())))
    }

    async fn logout_post(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::LogoutPostResponse> {
        session::revoke_family(&self.state, principal.family)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::LogoutPostResponse::Ok(Json(success())))
    }
}
