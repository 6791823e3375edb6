//! The `Auth` tag of the console surface.

use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{AuthApi, Operation, responses, schemas};

impl AuthApi for ConsoleHandlers {
    async fn login(
        &self,
        _ctx: Self::Context,
        _body: schemas::LoginRequest,
    ) -> poem::Result<responses::LoginResponse> {
        Err(ConsoleError::not_implemented(Operation::Login.operation_id()).into())
    }

    async fn check_activation(
        &self,
        _ctx: Self::Context,
        _workspace_id: Option<::uuid::Uuid>,
        _email: String,
        _token: String,
    ) -> poem::Result<responses::CheckActivationResponse> {
        Err(ConsoleError::not_implemented(Operation::CheckActivation.operation_id()).into())
    }

    async fn activate(
        &self,
        _ctx: Self::Context,
        _body: schemas::ActivateRequest,
    ) -> poem::Result<responses::ActivateResponse> {
        Err(ConsoleError::not_implemented(Operation::Activate.operation_id()).into())
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
        _body: schemas::RefreshTokenRequest,
    ) -> poem::Result<responses::RefreshTokenResponse> {
        Err(ConsoleError::not_implemented(Operation::RefreshToken.operation_id()).into())
    }

    async fn logout(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
    ) -> poem::Result<responses::LogoutResponse> {
        Err(ConsoleError::not_implemented(Operation::Logout.operation_id()).into())
    }

    async fn logout_post(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
    ) -> poem::Result<responses::LogoutPostResponse> {
        Err(ConsoleError::not_implemented(Operation::LogoutPost.operation_id()).into())
    }
}
