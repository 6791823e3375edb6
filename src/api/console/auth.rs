//! The `Auth` tag of the console surface.

use poem_openapi::payload::Json;

use super::views::{success, token_pair};
use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{AuthApi, responses, schemas};
use crate::config::TokenDelivery;
use crate::domain::{email_code_login, invitations, password_reset, registration, session, social};
use crate::oauth::{self, Provider};
use crate::state::AppState;

impl AuthApi for ConsoleHandlers {
    async fn send_email_code_login(
        &self,
        ctx: Self::Context,
        body: schemas::SendEmailCodeRequest,
    ) -> poem::Result<responses::SendEmailCodeLoginResponse> {
        let token = email_code_login::send(
            &self.state.db,
            &self.state.mailer,
            &self.state.settings(),
            self.state.clock.now(),
            &body.email,
            body.language.as_deref(),
            ctx.client_ip,
        )
        .await?;
        Ok(responses::SendEmailCodeLoginResponse::Ok(Json(
            super::views::email_token(token),
        )))
    }

    async fn email_code_login(
        &self,
        ctx: Self::Context,
        body: schemas::EmailCodeValidityRequest,
    ) -> poem::Result<responses::EmailCodeLoginResponse> {
        let pair = email_code_login::sign_in(
            &self.state.db,
            &self.state.accounts,
            &self.state.settings(),
            self.state.clock.now(),
            &body.email,
            &body.code,
            &body.token,
            &ctx.client(),
        )
        .await?;
        Ok(responses::EmailCodeLoginResponse::Ok(Json(token_pair(
            pair,
        ))))
    }

    async fn login(
        &self,
        ctx: Self::Context,
        body: schemas::LoginRequest,
    ) -> poem::Result<responses::LoginResponse> {
        if let Some(token) = body.invite_token.as_deref().filter(|t| !t.is_empty()) {
            let accepted = invitations::sign_in_with_invitation(
                &self.state.db,
                &self.state.accounts,
                &self.state.hasher,
                &self.state.settings(),
                self.state.clock.now(),
                &body.email,
                &body.password,
                token,
                &ctx.client(),
            )
            .await?;
            if let Some(pair) = accepted {
                return Ok(responses::LoginResponse::Ok(Json(token_pair(pair))));
            }
        }
        let pair = session::login(
            &self.state.db,
            &self.state.accounts,
            &self.state.hasher,
            &self.state.settings(),
            self.state.clock.now(),
            &body.email,
            body.password,
            &ctx.client(),
        )
        .await?;
        Ok(responses::LoginResponse::Ok(Json(token_pair(pair))))
    }

    async fn check_activation(
        &self,
        _ctx: Self::Context,
        workspace_id: Option<::uuid::Uuid>,
        email: String,
        token: String,
    ) -> poem::Result<responses::CheckActivationResponse> {
        let found = invitations::check(
            &self.state.db,
            self.state.clock.now(),
            &token,
            Some(&email),
            workspace_id,
        )
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
        ctx: Self::Context,
        body: schemas::ActivateRequest,
    ) -> poem::Result<responses::ActivateResponse> {
        let pair = invitations::activate(
            &self.state.db,
            &self.state.accounts,
            &self.state.settings(),
            self.state.clock.now(),
            invitations::Activation {
                token: &body.token,
                email: body.email.as_deref(),
                workspace_id: body.workspace_id,
                name: &body.name,
                interface_language: body.interface_language.as_str(),
                timezone: &body.timezone,
            },
            &ctx.client(),
        )
        .await?;
        Ok(responses::ActivateResponse::Ok(Json(token_pair(pair))))
    }

    async fn send_forgot_password_email(
        &self,
        ctx: Self::Context,
        body: schemas::SendEmailCodeRequest,
    ) -> poem::Result<responses::SendForgotPasswordEmailResponse> {
        let token = password_reset::send(
            &self.state.db,
            &self.state.mailer,
            &self.state.settings(),
            self.state.clock.now(),
            &body.email,
            body.language.as_deref(),
            ctx.client_ip,
        )
        .await?;
        Ok(responses::SendForgotPasswordEmailResponse::Ok(Json(
            email_token(token),
        )))
    }

    async fn check_forgot_password_code(
        &self,
        _ctx: Self::Context,
        body: schemas::EmailCodeValidityRequest,
    ) -> poem::Result<responses::CheckForgotPasswordCodeResponse> {
        let email = password_reset::check(
            &self.state.db,
            &self.state.settings(),
            self.state.clock.now(),
            &body.email,
            &body.code,
            &body.token,
        )
        .await?;
        Ok(responses::CheckForgotPasswordCodeResponse::Ok(Json(
            code_valid(email),
        )))
    }

    async fn reset_password(
        &self,
        ctx: Self::Context,
        body: schemas::ResetPasswordRequest,
    ) -> poem::Result<responses::ResetPasswordResponse> {
        let pair = password_reset::reset(
            &self.state.db,
            &self.state.accounts,
            &self.state.hasher,
            &self.state.settings(),
            self.state.clock.now(),
            &body.email,
            &body.token,
            body.password,
            &body.password_confirm,
            &ctx.client(),
        )
        .await?;
        Ok(responses::ResetPasswordResponse::Ok(Json(token_pair(pair))))
    }

    async fn send_register_email(
        &self,
        ctx: Self::Context,
        body: schemas::SendEmailCodeRequest,
    ) -> poem::Result<responses::SendRegisterEmailResponse> {
        let token = registration::send(
            &self.state.db,
            &self.state.mailer,
            &self.state.settings(),
            self.state.clock.now(),
            &body.email,
            body.language.as_deref(),
            ctx.client_ip,
        )
        .await?;
        Ok(responses::SendRegisterEmailResponse::Ok(Json(email_token(
            token,
        ))))
    }

    async fn check_register_code(
        &self,
        _ctx: Self::Context,
        body: schemas::EmailCodeValidityRequest,
    ) -> poem::Result<responses::CheckRegisterCodeResponse> {
        let email = registration::check(
            &self.state.db,
            &self.state.settings(),
            self.state.clock.now(),
            &body.email,
            &body.code,
            &body.token,
        )
        .await?;
        Ok(responses::CheckRegisterCodeResponse::Ok(Json(code_valid(
            email,
        ))))
    }

    async fn finish_register(
        &self,
        ctx: Self::Context,
        body: schemas::FinishRegisterRequest,
    ) -> poem::Result<responses::FinishRegisterResponse> {
        let pair = registration::finish(
            &self.state.db,
            &self.state.accounts,
            &self.state.hasher,
            &self.state.settings(),
            self.state.clock.now(),
            registration::Finish {
                email: &body.email,
                name: body.name.as_deref(),
                password: body.password,
                password_confirm: &body.password_confirm,
                token: &body.token,
            },
            &ctx.client(),
        )
        .await?;
        Ok(responses::FinishRegisterResponse::Ok(Json(token_pair(
            pair,
        ))))
    }

    async fn oauth_login(
        &self,
        _ctx: Self::Context,
        provider: schemas::OAuthProvider,
        invite_token: Option<String>,
    ) -> poem::Result<responses::OauthLoginResponse> {
        let provider = provider_of(provider);
        let (url, cookie) = match social::begin(
            &self.state.db,
            &self.state.settings(),
            self.state.clock.now(),
            provider,
            invite_token.as_deref(),
        )
        .await
        {
            Ok(begun) => {
                let cookie = state_cookie(&self.state, provider, Some(&begun.state));
                (begun.authorize_url, Some(cookie))
            }
            // The browser was sent here by the web app: a provider this server has no
            // client for lands on the sign-in page with the reason, as every callback
            // failure does, rather than on a JSON error page.
            Err(err @ social::SocialError::NotConfigured(_)) => {
                (signin_failure(&self.state, &err), None)
            }
            Err(err) => return Err(social_error(err).into()),
        };
        Ok(responses::OauthLoginResponse::Found(
            url,
            cookie,
            NO_STORE.to_string(),
            NO_REFERRER.to_string(),
        ))
    }

    async fn oauth_authorize(
        &self,
        ctx: Self::Context,
        provider: schemas::OAuthProvider,
        code: Option<String>,
        state: Option<String>,
        error: Option<String>,
        oauth_state: Option<String>,
    ) -> poem::Result<responses::OauthAuthorizeResponse> {
        let web = self.state.auth.console_web_url.trim_end_matches('/');
        let callback = social::Callback {
            code: code.as_deref(),
            state: state.as_deref(),
            error: error.as_deref(),
            cookie: oauth_state.as_deref(),
        };
        let name = provider.as_str();
        let provider = provider_of(provider);
        let outcome = social::finish(
            &self.state.db,
            &self.state.accounts,
            &self.state.settings(),
            self.state.clock.now(),
            provider,
            callback,
            &ctx.client(),
        )
        .await;
        // Whenever the browser brought the cookie of this state, the state is spent now
        // (signed in or not): the cookie goes too. Without it (another browser, another
        // sign-in's cookie) nothing was spent, and this browser's cookie, if any, stays.
        let clear = match &outcome {
            Err(social::SocialError::OtherBrowser | social::SocialError::NotConfigured(_)) => None,
            _ => Some(state_cookie(&self.state, provider, None)),
        };
        let location = match outcome {
            Ok(social::Landing::SignedIn(pair)) => {
                let tokens = format!(
                    "access_token={}&refresh_token={}",
                    encode(&pair.access_token),
                    encode(&pair.refresh_token)
                );
                match self.state.oauth.token_delivery {
                    TokenDelivery::Query => format!("{web}?{tokens}"),
                    TokenDelivery::Fragment => format!("{web}#{tokens}"),
                }
            }
            Ok(social::Landing::InviteSettings(token)) => {
                format!(
                    "{web}/signin/invite-settings?invite_token={}",
                    encode(&token)
                )
            }
            Err(err) => {
                match &err {
                    social::SocialError::Db(_) | social::SocialError::Session(_) => {
                        tracing::error!(error = %err, provider = name, "social sign-in failed")
                    }
                    _ => {
                        tracing::info!(error = %err, provider = name, "social sign-in refused")
                    }
                }
                signin_failure(&self.state, &err)
            }
        };
        Ok(responses::OauthAuthorizeResponse::Found(
            location,
            clear,
            NO_STORE.to_string(),
            NO_REFERRER.to_string(),
        ))
    }

    async fn refresh_token(
        &self,
        _ctx: Self::Context,
        body: schemas::RefreshTokenRequest,
    ) -> poem::Result<responses::RefreshTokenResponse> {
        let pair = session::refresh(
            &self.state.db,
            &self.state.accounts,
            &self.state.settings(),
            self.state.clock.now(),
            &body.refresh_token,
        )
        .await?;
        Ok(responses::RefreshTokenResponse::Ok(Json(token_pair(pair))))
    }

    async fn logout(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::LogoutResponse> {
        session::revoke_family(&self.state.db, self.state.clock.now(), principal.family)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::LogoutResponse::Ok(Json(success())))
    }

    async fn logout_post(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::LogoutPostResponse> {
        session::revoke_family(&self.state.db, self.state.clock.now(), principal.family)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::LogoutPostResponse::Ok(Json(success())))
    }
}

fn email_token(token: String) -> schemas::EmailTokenResponse {
    schemas::EmailTokenResponse {
        result: "success".to_string(),
        data: token,
    }
}

fn code_valid(email: String) -> schemas::CodeValidityResponse {
    schemas::CodeValidityResponse {
        is_valid: true,
        email,
    }
}

/// The cookie that ties a social sign-in's `state` to the browser that started it (the
/// contract's cookie parameter of `oauth_authorize`).
pub const STATE_COOKIE: &str = "oauth_state";

/// Both OAuth redirects carry one-time values or tokens in their URLs: no cache keeps
/// them, and the next page is not told where the browser came from.
const NO_STORE: &str = "no-store";
const NO_REFERRER: &str = "no-referrer";

/// `Set-Cookie` for the state cookie: `Some(state)` sets it for the state's lifetime,
/// `None` removes it. Sent only to the callback path (under `CONSOLE_API_URL`'s own path);
/// `HttpOnly`, so no script reads it; `SameSite=Lax`, so the provider's top-level redirect
/// back carries it and cross-site subrequests do not; `Secure` when browsers reach the API
/// over https.
fn state_cookie(state: &AppState, provider: Provider, value: Option<&str>) -> String {
    let path = oauth::callback_path(&state.oauth, provider);
    let secure = if oauth::public_url_is_https(&state.oauth) {
        "; Secure"
    } else {
        ""
    };
    match value {
        Some(value) => format!(
            "{STATE_COOKIE}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            social::STATE_LIFETIME
        ),
        None => format!(
            "{STATE_COOKIE}=; Path={path}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax{secure}"
        ),
    }
}

/// Where a failed social sign-in sends the browser: the web app's sign-in page, with the
/// reason to show.
fn signin_failure(state: &AppState, err: &social::SocialError) -> String {
    format!(
        "{}/signin?message={}",
        state.auth.console_web_url.trim_end_matches('/'),
        encode(err.message())
    )
}

fn provider_of(provider: schemas::OAuthProvider) -> Provider {
    match provider {
        schemas::OAuthProvider::Github => Provider::Github,
        schemas::OAuthProvider::Google => Provider::Google,
    }
}

/// A failure of the login step other than an unconfigured provider (that one redirects).
fn social_error(err: social::SocialError) -> ConsoleError {
    match err {
        social::SocialError::Db(err) => err.into(),
        other => ConsoleError::internal(&other),
    }
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
