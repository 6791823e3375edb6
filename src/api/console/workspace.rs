//! The `Workspace` tag of the console surface (extensions): the caller's workspaces,
//! switching between them, creating datasets, and a workspace's model defaults.

use poem_openapi::payload::Json;

use super::views;
use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{WorkspaceApi, responses, schemas};
use crate::domain::policy::WorkspaceRole;
use crate::domain::{datasets, owner_transfer, workspace_members, workspaces};

impl WorkspaceApi for ConsoleHandlers {
    async fn create_dataset(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::CreateDatasetRequest,
    ) -> poem::Result<responses::CreateDatasetResponse> {
        // The gate (rule DatasetEditor) has checked the membership of the current workspace.
        let (tenant, _) = workspaces::current(&self.state.db, principal.account.id)
            .await
            .map_err(ConsoleError::from)?
            .ok_or_else(ConsoleError::forbidden)?;
        let created = datasets::create(
            &self.state.db,
            self.state.clock.now(),
            &tenant,
            &principal.account,
            datasets::NewDataset {
                name: body.name,
                description: body.description,
                indexing_technique: body.indexing_technique.map(|t| t.as_str().to_string()),
                permission: body.permission.map(|p| p.as_str().to_string()),
                partial_members: body.partial_member_list.unwrap_or_default(),
            },
        )
        .await?;
        Ok(responses::CreateDatasetResponse::Created(Json(
            views::dataset(&created)?,
        )))
    }

    async fn list_workspaces(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::ListWorkspacesResponse> {
        let found = workspaces::of_account(&self.state.db, principal.account.id)
            .await
            .map_err(ConsoleError::from)?;
        let workspaces = found.iter().map(|(t, m)| views::workspace(t, m)).collect();
        Ok(responses::ListWorkspacesResponse::Ok(Json(
            schemas::WorkspaceList { workspaces },
        )))
    }

    async fn switch_workspace(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::SwitchWorkspaceRequest,
    ) -> poem::Result<responses::SwitchWorkspaceResponse> {
        let (tenant, member) = workspaces::switch(
            &self.state.db,
            &self.state.accounts,
            self.state.clock.now(),
            principal.account.id,
            body.tenant_id,
        )
        .await?;
        Ok(responses::SwitchWorkspaceResponse::Ok(Json(
            schemas::SwitchWorkspaceResponse {
                result: "success".to_string(),
                new_tenant: views::workspace(&tenant, &member),
            },
        )))
    }

    async fn get_workspace_model_defaults(
        &self,
        _ctx: Self::Context,
        access: Self::WorkspaceAccess,
        _tenant_id: ::uuid::Uuid,
    ) -> poem::Result<responses::GetWorkspaceModelDefaultsResponse> {
        let tenant = access.tenant();
        let (providers, defaults) = workspaces::model_defaults(&self.state.db, tenant.id)
            .await
            .map_err(ConsoleError::from)?;
        let model_providers = providers
            .into_iter()
            .map(|p| {
                Ok(schemas::ModelProvider {
                    config: views::wire(
                        serde_json::from_str(&p.config).map_err(|e| ConsoleError::internal(&e))?,
                    )?,
                    provider_name: p.provider_name,
                })
            })
            .collect::<Result<_, ConsoleError>>()?;
        let default_models = defaults
            .into_iter()
            .map(|d| schemas::DefaultModel {
                model_type: d.model_type,
                provider_name: d.provider_name,
                model_name: d.model_name,
            })
            .collect();
        Ok(responses::GetWorkspaceModelDefaultsResponse::Ok(Json(
            schemas::ModelDefaults {
                tenant_id: tenant.id,
                model_providers,
                default_models,
            },
        )))
    }

    async fn list_workspace_members(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::ListWorkspaceMembersResponse> {
        let (_, members) = workspace_members::list(&self.state.db, principal.account.id).await?;
        let accounts = members
            .iter()
            .map(|m| {
                let a = &m.account;
                Ok(schemas::WorkspaceMember {
                    id: a.id,
                    name: a.name.clone(),
                    avatar: a.avatar.clone(),
                    avatar_url: views::avatar_url(a.avatar.as_deref()),
                    email: a.email.clone(),
                    last_login_at: a.last_login_at,
                    last_active_at: a.last_login_at,
                    created_at: a.created_at,
                    role: m.role.into(),
                    status: a.status.into(),
                })
            })
            .collect::<Result<Vec<_>, ConsoleError>>()?;
        Ok(responses::ListWorkspaceMembersResponse::Ok(Json(
            schemas::WorkspaceMemberList {
                result: "success".to_string(),
                accounts,
            },
        )))
    }

    async fn update_workspace_member_role(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        member_id: ::uuid::Uuid,
        body: schemas::UpdateMemberRoleRequest,
    ) -> poem::Result<responses::UpdateWorkspaceMemberRoleResponse> {
        let role = WorkspaceRole::from(body.role);
        workspace_members::change_role(&self.state.db, principal.account.id, member_id, role)
            .await?;
        Ok(responses::UpdateWorkspaceMemberRoleResponse::Ok(Json(
            views::success(),
        )))
    }

    async fn remove_workspace_member(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        member_id: ::uuid::Uuid,
    ) -> poem::Result<responses::RemoveWorkspaceMemberResponse> {
        let tenant_id = workspace_members::remove(
            &self.state.db,
            self.state.clock.now(),
            principal.account.id,
            member_id,
        )
        .await?;
        Ok(responses::RemoveWorkspaceMemberResponse::Ok(Json(
            schemas::RemoveMemberResponse {
                result: "success".to_string(),
                tenant_id,
            },
        )))
    }

    async fn send_owner_transfer_code(
        &self,
        ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::OwnerTransferSendRequest,
    ) -> poem::Result<responses::SendOwnerTransferCodeResponse> {
        let token = owner_transfer::send(
            &self.state.db,
            &self.state.mailer,
            &self.state.settings(),
            self.state.clock.now(),
            &principal,
            body.language.as_deref(),
            ctx.client_ip,
        )
        .await?;
        Ok(responses::SendOwnerTransferCodeResponse::Ok(Json(
            views::email_token(token),
        )))
    }

    async fn check_owner_transfer_code(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::OwnerTransferCheckRequest,
    ) -> poem::Result<responses::CheckOwnerTransferCodeResponse> {
        let email = owner_transfer::check(
            &self.state.db,
            &self.state.settings(),
            self.state.clock.now(),
            &principal,
            &body.code,
            &body.token,
        )
        .await?;
        Ok(responses::CheckOwnerTransferCodeResponse::Ok(Json(
            views::code_checked(email, body.token),
        )))
    }

    async fn transfer_workspace_owner(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        member_id: ::uuid::Uuid,
        body: schemas::OwnerTransferRequest,
    ) -> poem::Result<responses::TransferWorkspaceOwnerResponse> {
        owner_transfer::transfer(
            &self.state.db,
            self.state.clock.now(),
            &principal,
            member_id,
            &body.token,
        )
        .await?;
        Ok(responses::TransferWorkspaceOwnerResponse::Ok(Json(
            views::success(),
        )))
    }
}
