//! The `Auth` tag of the admin surface: sign-in (plain and hashed), sign-out, 2FA set-up.

use poem_openapi::payload::Json;

use super::{AdminError, AdminHandlers, empty_ok};
use crate::api::context::RequestContext;
use crate::api::generated::admin::{AuthApi, responses, schemas};
use crate::auth::sealed::Sealer;
use crate::domain::admin_users::{self as users, Login};

impl AdminHandlers {
    async fn sign_in(
        &self,
        ctx: &RequestContext,
        body: &schemas::LoginRequest,
        password_hash: &str,
    ) -> Result<schemas::LoginResponse, AdminError> {
        let s = &self.state;
        let client = ctx
            .client_ip
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into());
        let user = users::login(
            &s.db,
            &s.hasher,
            s.clock.as_ref(),
            &Sealer::new(&s.secret),
            Login {
                username: &body.username,
                password_hash,
                otp_code: body.otp_code.as_deref(),
                client: &client,
            },
        )
        .await?;
        let token = users::issue_token(&s.secret, &user, s.clock.now(), s.admin.token_ttl)?;
        Ok(schemas::LoginResponse {
            code: 200,
            message: "success".into(),
            data: Some(schemas::LoginData { token }),
        })
    }
}

impl AuthApi for AdminHandlers {
    async fn login(
        &self,
        ctx: Self::Context,
        body: schemas::LoginRequest,
    ) -> poem::Result<responses::LoginResponse> {
        let hash = users::static_hash(&body.password);
        let out = self.sign_in(&ctx, &body, &hash).await?;
        Ok(responses::LoginResponse::Ok(Json(out)))
    }

    async fn login_hash(
        &self,
        ctx: Self::Context,
        body: schemas::LoginRequest,
    ) -> poem::Result<responses::LoginHashResponse> {
        let hash = body.password.to_ascii_lowercase();
        let out = self.sign_in(&ctx, &body, &hash).await?;
        Ok(responses::LoginHashResponse::Ok(Json(out)))
    }

    async fn logout(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::LogoutResponse> {
        if let Some(token) = principal.token {
            users::revoke_token(
                &self.state.db,
                &token.raw,
                token.exp,
                self.state.clock.now(),
            )
            .await?;
        }
        Ok(responses::LogoutResponse::Ok(Json(empty_ok())))
    }

    async fn generate_2fa(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::Generate2faResponse> {
        let (qr, secret) = users::generate_2fa(&principal.user)?;
        Ok(responses::Generate2faResponse::Ok(Json(
            schemas::TwoFactorSecretResponse {
                code: 200,
                message: "success".into(),
                data: Some(schemas::TwoFactorSecret { qr, secret }),
            },
        )))
    }

    async fn verify_2fa(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::Verify2faRequest,
    ) -> poem::Result<responses::Verify2faResponse> {
        let s = &self.state;
        users::verify_2fa(
            &s.db,
            &s.admin.users,
            s.clock.as_ref(),
            &Sealer::new(&s.secret),
            principal.user.id,
            body.code.trim(),
            body.secret.trim(),
        )
        .await?;
        Ok(responses::Verify2faResponse::Ok(Json(empty_ok())))
    }
}
