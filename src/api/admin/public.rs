//! The `Public` tag of the admin surface: what AList's web front end reads before it draws
//! anything.

use poem_openapi::payload::Json;

use super::AdminHandlers;
use crate::api::generated::admin::{PublicApi, responses, schemas};

/// AList's public settings, with the site from the configuration and the features this
/// server does not have turned off.
fn public_settings(site_title: &str, logo: &str) -> schemas::PublicSettings {
    let s = |v: &str| v.to_string();
    let favicon = logo.lines().next().unwrap_or_default().trim();
    schemas::PublicSettings {
        version: format!("console-server/{}", env!("CARGO_PKG_VERSION")),
        site_title: s(site_title),
        announcement: String::new(),
        pagination_type: s("all"),
        default_page_size: s("30"),
        allow_indexed: s("false"),
        allow_mounted: s("true"),
        robots_txt: s("User-agent: *\nAllow: /"),
        logo: s(logo),
        favicon: s(favicon),
        main_color: s("#1890ff"),
        home_icon: s("\u{1F3E0}"),
        home_container: s("max_980px"),
        settings_layout: s("list"),
        external_previews: s("{}"),
        iframe_previews: s("{}"),
        audio_cover: String::new(),
        audio_autoplay: s("false"),
        video_autoplay: s("false"),
        hide_files: String::new(),
        package_download: s("false"),
        ocr_api: String::new(),
        filename_char_mapping: s(r#"{"/": "|"}"#),
        forward_direct_link_params: s("false"),
        ignore_direct_link_params: s("sign,alist_ts"),
        webauthn_login_enabled: s("false"),
        search_index: s("none"),
        auto_update_index: s("false"),
        sso_login_enabled: s("false"),
        sso_login_platform: String::new(),
        sso_compatibility_mode: s("false"),
        ldap_login_enabled: s("false"),
        ldap_login_tips: String::new(),
        customize_head: String::new(),
        customize_body: String::new(),
    }
}

impl PublicApi for AdminHandlers {
    async fn get_public_settings(
        &self,
        _ctx: Self::Context,
    ) -> poem::Result<responses::GetPublicSettingsResponse> {
        let web = &self.state.admin.web;
        Ok(responses::GetPublicSettingsResponse::Ok(Json(
            schemas::PublicSettingsResponse {
                code: 200,
                message: "success".into(),
                data: Some(public_settings(&web.site_title, &web.site_logo)),
            },
        )))
    }

    async fn list_offline_download_tools(
        &self,
        _ctx: Self::Context,
    ) -> poem::Result<responses::ListOfflineDownloadToolsResponse> {
        Ok(responses::ListOfflineDownloadToolsResponse::Ok(Json(
            schemas::StringListResponse {
                code: 200,
                message: "success".into(),
                data: Some(Vec::new()),
            },
        )))
    }
}
