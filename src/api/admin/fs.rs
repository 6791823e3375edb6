//! The `Fs` tag of the admin surface: the storage calls of AList's web front end. This
//! server stores no files: every folder is empty (with a note saying where the files are),
//! and the base-path picker browses the configured folders (`ADMIN_BASE_PATHS`).

use poem_openapi::payload::Json;

use super::{AdminError, AdminHandlers, authz};
use crate::api::generated::admin::{FsApi, responses, schemas};
use crate::domain::admin_users::normalize_base_path;
use crate::domain::storage_folders;

/// Go's zero `time.Time`, which AList gives virtual folders.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// AList's object type of a folder.
const TYPE_FOLDER: i32 = 1;
/// The note the front end renders below every (empty) folder.
pub const HOME_NOTE: &str = "### Files are not served here\n\nThis server manages the users of the storage; the files are served elsewhere.\n\nAdministrators: open [Manage](/@manage/users) to manage the users.";

fn folder_name(path: &str) -> String {
    match normalize_base_path(path).rsplit('/').next() {
        Some("") | None => "root".to_string(),
        Some(name) => name.to_string(),
    }
}

impl FsApi for AdminHandlers {
    async fn fs_get(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        body: schemas::FsGetRequest,
    ) -> poem::Result<responses::FsGetResponse> {
        let path = body.path.unwrap_or_default();
        Ok(responses::FsGetResponse::Ok(Json(schemas::FsGetResponse {
            code: 200,
            message: "success".into(),
            data: Some(schemas::FsGetData {
                name: folder_name(&path),
                size: 0,
                is_dir: true,
                modified: GO_ZERO_TIME.into(),
                created: GO_ZERO_TIME.into(),
                sign: String::new(),
                thumb: String::new(),
                r#type: TYPE_FOLDER,
                hashinfo: "null".into(),
                hash_info: None,
                raw_url: String::new(),
                readme: String::new(),
                header: String::new(),
                provider: "unknown".into(),
                related: None,
            }),
        })))
    }

    async fn fs_list(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _body: schemas::FsListRequest,
    ) -> poem::Result<responses::FsListResponse> {
        Ok(responses::FsListResponse::Ok(Json(
            schemas::FsListResponse {
                code: 200,
                message: "success".into(),
                data: Some(schemas::FsListData {
                    content: Vec::new(),
                    total: 0,
                    readme: HOME_NOTE.into(),
                    header: String::new(),
                    write: false,
                    provider: "unknown".into(),
                }),
            },
        )))
    }

    async fn fs_dirs(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::FsDirsRequest,
    ) -> poem::Result<responses::FsDirsResponse> {
        let path = body.path.unwrap_or_default();
        let path = if body.force_root.unwrap_or(false) {
            authz::admit_force_root(&principal.user)
                .map_err(|(code, message)| AdminError::new(code, message))?;
            normalize_base_path(&path)
        } else {
            storage_folders::join(&principal.user.base_path, &path)
        };
        let names = self
            .state
            .admin
            .web
            .folders
            .children(&path)
            .ok_or_else(|| AdminError::new(404, "object not found"))?;
        Ok(responses::FsDirsResponse::Ok(Json(
            schemas::FsDirsResponse {
                code: 200,
                message: "success".into(),
                data: Some(
                    names
                        .into_iter()
                        .map(|name| schemas::FsDir {
                            name,
                            modified: GO_ZERO_TIME.into(),
                        })
                        .collect(),
                ),
            },
        )))
    }
}
