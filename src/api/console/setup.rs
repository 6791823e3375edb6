//! The `Setup` tag of the console surface.

use poem_openapi::payload::Json;

use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{SetupApi, responses, schemas};
use crate::domain::setup;

impl SetupApi for ConsoleHandlers {
    async fn get_setup_status(
        &self,
        _ctx: Self::Context,
    ) -> poem::Result<responses::GetSetupStatusResponse> {
        let finished = setup::finished_at(&self.state.db)
            .await
            .map_err(ConsoleError::from)?;
        let status = match finished {
            Some(at) => schemas::SetupStatus {
                step: schemas::SetupStep::Finished,
                setup_at: Some(iso_datetime(at)),
            },
            None => schemas::SetupStatus {
                step: schemas::SetupStep::NotStarted,
                setup_at: None,
            },
        };
        Ok(responses::GetSetupStatusResponse::Ok(Json(status)))
    }

    async fn setup(
        &self,
        ctx: Self::Context,
        body: schemas::SetupRequest,
    ) -> poem::Result<responses::SetupResponse> {
        let input = setup::SetupInput {
            email: body.email,
            name: body.name,
            password: body.password,
            language: body.language,
        };
        setup::run(
            &self.state.db,
            &self.state.accounts,
            &self.state.hasher,
            &self.state.settings(),
            self.state.clock.now(),
            ctx.client_ip,
            input,
        )
        .await?;
        Ok(responses::SetupResponse::Created(Json(
            schemas::ResultResponse {
                result: "success".to_string(),
            },
        )))
    }

    async fn get_system_features(
        &self,
        _ctx: Self::Context,
    ) -> poem::Result<responses::GetSystemFeaturesResponse> {
        let f = &self.state.features;
        Ok(responses::GetSystemFeaturesResponse::Ok(Json(
            schemas::SystemFeatures {
                sso_enforced_for_signin: false,
                sso_enforced_for_signin_protocol: String::new(),
                sso_enforced_for_web: false,
                sso_enforced_for_web_protocol: String::new(),
                enable_web_sso_switch_component: false,
                enable_marketplace: f.enable_marketplace,
                max_plugin_package_size: f.max_plugin_package_size,
                enable_email_code_login: f.enable_email_code_login,
                enable_email_password_login: f.enable_email_password_login,
                enable_social_oauth_login: crate::oauth::any_configured(&self.state.oauth),
                is_allow_register: f.allow_register,
                is_allow_create_workspace: f.allow_create_workspace,
                is_email_setup: f.mail_type.as_deref().is_some_and(|t| !t.is_empty()),
                license: schemas::License {
                    status: schemas::LicenseStatus::None,
                    expired_at: String::new(),
                },
                is_public_deployment: f.is_public_deployment,
            },
        )))
    }

    async fn get_init_status(
        &self,
        ctx: Self::Context,
    ) -> poem::Result<responses::GetInitStatusResponse> {
        let state = &self.state;
        let done = setup::finished_at(&state.db)
            .await
            .map_err(ConsoleError::from)?
            .is_some()
            || setup::init_validated(
                &state.db,
                &state.settings(),
                state.clock.now(),
                ctx.client_ip,
            )
            .await
            .map_err(ConsoleError::from)?;
        let status = if done {
            schemas::InitStatus::Finished
        } else {
            schemas::InitStatus::NotStarted
        };
        Ok(responses::GetInitStatusResponse::Ok(Json(
            schemas::InitStatusResponse { status },
        )))
    }

    async fn validate_init_password(
        &self,
        ctx: Self::Context,
        body: schemas::InitValidateRequest,
    ) -> poem::Result<responses::ValidateInitPasswordResponse> {
        setup::validate_init(
            &self.state.db,
            &self.state.settings(),
            self.state.clock.now(),
            ctx.client_ip,
            &body.password,
        )
        .await?;
        Ok(responses::ValidateInitPasswordResponse::Created(Json(
            super::views::success(),
        )))
    }
}

/// Dify's `setup_at`: a naive ISO 8601 date-time in UTC (`2025-02-26T23:05:31`).
fn iso_datetime(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}
