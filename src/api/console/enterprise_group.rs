//! The `EnterpriseGroup` tag of the console surface. Every group-scoped handler receives
//! the gate's proof (`GroupAccess`, `AccountAccess`, `CurrentGroupAccess`) and works on the
//! group or account that proof is about; it cannot run without one.

use poem_openapi::payload::Json;

use super::authz::GroupAccess;
use super::views::{self, success};
use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{EnterpriseGroupApi, responses, schemas};
use crate::domain::group_datasets;
use crate::domain::groups::{self, Capability};
use crate::domain::paging::Page;

/// The contract bounds both (page ≥ 1, limit 1–100) before a handler runs.
fn bounds(page: i32, limit: i32) -> (u64, u64) {
    (page.max(1) as u64, limit.clamp(1, 100) as u64)
}

fn tenant_page(page: i32, limit: i32, found: Page<entity::tenant::Model>) -> schemas::TenantPage {
    let (p, l) = bounds(page, limit);
    schemas::TenantPage {
        page,
        limit,
        total: found.total as i64,
        has_more: found.has_more(p, l),
        data: found.items.iter().map(views::tenant).collect(),
    }
}

fn group_page(
    page: i32,
    limit: i32,
    found: Page<entity::enterprise_group::Model>,
) -> schemas::GroupPage {
    let (p, l) = bounds(page, limit);
    schemas::GroupPage {
        page,
        limit,
        total: found.total as i64,
        has_more: found.has_more(p, l),
        data: found.items.iter().map(views::group).collect(),
    }
}

fn permission(has_permission: bool) -> schemas::PermissionResponse {
    schemas::PermissionResponse { has_permission }
}

impl ConsoleHandlers {
    async fn managed(
        &self,
        access: &GroupAccess,
        capability: Capability,
        page: i32,
        limit: i32,
    ) -> Result<schemas::TenantPage, ConsoleError> {
        let (p, l) = bounds(page, limit);
        let found = groups::managed_tenants(
            &self.state.db,
            access.group().id,
            access.session().account.id,
            access.manages_group(),
            capability,
            p,
            l,
        )
        .await?;
        Ok(tenant_page(page, limit, found))
    }

    async fn capability(
        &self,
        access: &GroupAccess,
        capability: Capability,
    ) -> Result<bool, ConsoleError> {
        Ok(groups::has_capability(
            &self.state.db,
            access.group().id,
            access.session().account.id,
            access.manages_group(),
            capability,
        )
        .await?)
    }
}

impl EnterpriseGroupApi for ConsoleHandlers {
    async fn list_enterprise_groups(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        page: i32,
        limit: i32,
        status: Option<schemas::GroupStatus>,
    ) -> poem::Result<responses::ListEnterpriseGroupsResponse> {
        let (p, l) = bounds(page, limit);
        let found = groups::list(&self.state.db, status.map(Into::into), p, l)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListEnterpriseGroupsResponse::Ok(Json(
            group_page(page, limit, found),
        )))
    }

    async fn update_enterprise_group(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        body: schemas::UpdateEnterpriseGroupRequest,
    ) -> poem::Result<responses::UpdateEnterpriseGroupResponse> {
        let group = groups::update(
            &self.state.db,
            access.group().id,
            &body.name,
            body.short_name,
        )
        .await?;
        Ok(responses::UpdateEnterpriseGroupResponse::Ok(Json(
            views::group(&group),
        )))
    }

    async fn create_enterprise_group(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::CreateEnterpriseGroupRequest,
    ) -> poem::Result<responses::CreateEnterpriseGroupResponse> {
        groups::create(
            &self.state.db,
            &self.state.accounts,
            self.state.clock.now(),
            principal.account.id,
            &body.name,
            body.short_name,
        )
        .await?;
        Ok(responses::CreateEnterpriseGroupResponse::Created(Json(
            schemas::MessageResponse {
                message: "success".to_string(),
            },
        )))
    }

    async fn delete_enterprise_group(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        body: schemas::DeleteEnterpriseGroupRequest,
    ) -> poem::Result<responses::DeleteEnterpriseGroupResponse> {
        groups::delete(&self.state.db, &self.state.accounts, body.id).await?;
        Ok(responses::DeleteEnterpriseGroupResponse::Ok(
            Json(success()),
        ))
    }

    async fn get_enterprise_group_info(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
    ) -> poem::Result<responses::GetEnterpriseGroupInfoResponse> {
        Ok(responses::GetEnterpriseGroupInfoResponse::Ok(Json(
            views::group(access.group()),
        )))
    }

    async fn list_group_tenants(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
        status: Option<schemas::TenantStatus>,
    ) -> poem::Result<responses::ListGroupTenantsResponse> {
        let (p, l) = bounds(page, limit);
        let found = groups::tenants(
            &self.state.db,
            access.group().id,
            status.map(Into::into),
            p,
            l,
        )
        .await
        .map_err(ConsoleError::from)?;
        Ok(responses::ListGroupTenantsResponse::Ok(Json(tenant_page(
            page, limit, found,
        ))))
    }

    async fn create_group_tenant(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        body: schemas::CreateGroupTenantRequest,
    ) -> poem::Result<responses::CreateGroupTenantResponse> {
        groups::create_tenant(
            &self.state.db,
            &self.state.accounts,
            self.state.clock.now(),
            access.group().id,
            access.session().account.id,
            &body.name,
        )
        .await?;
        Ok(responses::CreateGroupTenantResponse::Created(Json(
            schemas::MessageResponse {
                message: "workspace created.".to_string(),
            },
        )))
    }

    async fn list_unjoined_tenants(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        account_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListUnjoinedTenantsResponse> {
        let (p, l) = bounds(page, limit);
        let found =
            groups::tenants_of_account(&self.state.db, access.group().id, account_id, false, p, l)
                .await?;
        Ok(responses::ListUnjoinedTenantsResponse::Ok(Json(
            tenant_page(page, limit, found),
        )))
    }

    async fn list_joined_tenants(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        account_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListJoinedTenantsResponse> {
        let (p, l) = bounds(page, limit);
        let found =
            groups::tenants_of_account(&self.state.db, access.group().id, account_id, true, p, l)
                .await?;
        Ok(responses::ListJoinedTenantsResponse::Ok(Json(tenant_page(
            page, limit, found,
        ))))
    }

    async fn list_joined_tenant_roles(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        account_id: ::uuid::Uuid,
    ) -> poem::Result<responses::ListJoinedTenantRolesResponse> {
        let roles = groups::tenant_roles(&self.state.db, access.group().id, account_id).await?;
        let data = roles
            .into_iter()
            .map(|r| schemas::JoinedTenantRole {
                tenant_id: r.tenant.id,
                tenant_name: r.tenant.name,
                role: r.role.into(),
                position: r.position.unwrap_or_default(),
                permissions: views::tenant_permissions(&r.permissions),
            })
            .collect();
        Ok(responses::ListJoinedTenantRolesResponse::Ok(Json(data)))
    }

    async fn list_account_joined_groups(
        &self,
        _ctx: Self::Context,
        access: Self::AccountAccess,
        _account_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListAccountJoinedGroupsResponse> {
        let (p, l) = bounds(page, limit);
        let found = groups::joined_groups(&self.state.db, access.account_id(), p, l).await?;
        Ok(responses::ListAccountJoinedGroupsResponse::Ok(Json(
            group_page(page, limit, found),
        )))
    }

    async fn list_my_joined_groups(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListMyJoinedGroupsResponse> {
        let (p, l) = bounds(page, limit);
        let found = groups::joined_groups(&self.state.db, principal.account.id, p, l).await?;
        Ok(responses::ListMyJoinedGroupsResponse::Ok(Json(group_page(
            page, limit, found,
        ))))
    }

    async fn check_manage_permission(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        switch_tenant: bool,
    ) -> poem::Result<responses::CheckManagePermissionResponse> {
        let permitted = access.manages_group();
        if permitted && switch_tenant {
            groups::switch_to_shadow(
                &self.state.db,
                &self.state.accounts,
                self.state.clock.now(),
                access.group().id,
                access.session().account.id,
            )
            .await?;
        }
        Ok(responses::CheckManagePermissionResponse::Ok(Json(
            permission(permitted),
        )))
    }

    async fn get_current_group(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::GetCurrentGroupResponse> {
        let (group, role) = groups::current(&self.state.db, principal.account.id)
            .await
            .map_err(ConsoleError::from)?
            .ok_or(ConsoleError::from(groups::GroupError::GroupNotFound))?;
        Ok(responses::GetCurrentGroupResponse::Ok(Json(
            views::current_group(&group, role),
        )))
    }

    async fn get_current_group_detail(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::GetCurrentGroupDetailResponse> {
        let (group, role) = groups::current(&self.state.db, principal.account.id)
            .await
            .map_err(ConsoleError::from)?
            .ok_or(ConsoleError::from(groups::GroupError::GroupNotFound))?;
        let shadow = groups::shadow(&self.state.db, group.id).await?;
        Ok(responses::GetCurrentGroupDetailResponse::Ok(Json(
            schemas::CurrentGroupDetail {
                enterprise_group: views::current_group(&group, role),
                shadow_tenant: views::tenant(&shadow),
            },
        )))
    }

    async fn list_managed_tenants(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListManagedTenantsResponse> {
        let data = self
            .managed(&access, Capability::Workspace, page, limit)
            .await?;
        Ok(responses::ListManagedTenantsResponse::Ok(Json(data)))
    }

    async fn list_managed_app_tenants(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListManagedAppTenantsResponse> {
        let data = self.managed(&access, Capability::Apps, page, limit).await?;
        Ok(responses::ListManagedAppTenantsResponse::Ok(Json(data)))
    }

    async fn list_managed_dataset_tenants(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListManagedDatasetTenantsResponse> {
        let data = self
            .managed(&access, Capability::Datasets, page, limit)
            .await?;
        Ok(responses::ListManagedDatasetTenantsResponse::Ok(Json(data)))
    }

    async fn list_group_members(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListGroupMembersResponse> {
        let (p, l) = bounds(page, limit);
        let found = groups::members(&self.state.db, access.group().id, p, l)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListGroupMembersResponse::Ok(Json(
            schemas::AccountExPage {
                page,
                limit,
                total: found.total as i64,
                has_more: found.has_more(p, l),
                data: found.items.iter().map(views::account_ex).collect(),
            },
        )))
    }

    async fn list_group_datasets(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
        search: Option<String>,
    ) -> poem::Result<responses::ListGroupDatasetsResponse> {
        // A control character is never part of a name a person searches for, and the
        // full-text engines read some of them as syntax (NUL ended SQLite's FTS5 query).
        if search
            .as_deref()
            .is_some_and(|s| s.chars().any(char::is_control))
        {
            return Err(
                ConsoleError::invalid_param("search must not contain control characters.").into(),
            );
        }
        let (p, l) = bounds(page, limit);
        let found = group_datasets::datasets(
            &self.state.db,
            access.group().id,
            access.session().account.id,
            access.manages_group(),
            search.as_deref(),
            p,
            l,
        )
        .await
        .map_err(ConsoleError::from)?;
        Ok(responses::ListGroupDatasetsResponse::Ok(Json(
            schemas::DatasetPage {
                page,
                limit,
                total: found.total as i64,
                has_more: found.has_more(p, l),
                data: found
                    .items
                    .iter()
                    .map(views::dataset)
                    .collect::<Result<_, _>>()?,
            },
        )))
    }

    async fn repair_model_providers(
        &self,
        _ctx: Self::Context,
        access: Self::CurrentGroupAccess,
    ) -> poem::Result<responses::RepairModelProvidersResponse> {
        let group = access
            .group()
            .ok_or(ConsoleError::from(groups::GroupError::GroupNotFound))?;
        let added =
            groups::repair_model_providers(&self.state.db, self.state.clock.now(), group.id)
                .await
                .map_err(ConsoleError::from)?;
        tracing::info!(group = %group.id, added, "repaired model providers");
        Ok(responses::RepairModelProvidersResponse::Ok(Json(success())))
    }

    async fn check_app_permission(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
    ) -> poem::Result<responses::CheckAppPermissionResponse> {
        let has = self.capability(&access, Capability::Apps).await?;
        Ok(responses::CheckAppPermissionResponse::Ok(Json(permission(
            has,
        ))))
    }

    async fn check_dataset_permission(
        &self,
        _ctx: Self::Context,
        access: Self::GroupAccess,
        _group_id: ::uuid::Uuid,
    ) -> poem::Result<responses::CheckDatasetPermissionResponse> {
        let has = self.capability(&access, Capability::Datasets).await?;
        Ok(responses::CheckDatasetPermissionResponse::Ok(Json(
            permission(has),
        )))
    }

    async fn repair_system_default(
        &self,
        _ctx: Self::Context,
        access: Self::CurrentGroupAccess,
    ) -> poem::Result<responses::RepairSystemDefaultResponse> {
        let group = access
            .group()
            .ok_or(ConsoleError::from(groups::GroupError::GroupNotFound))?;
        let added = groups::repair_system_default(&self.state.db, self.state.clock.now(), group.id)
            .await
            .map_err(ConsoleError::from)?;
        tracing::info!(group = %group.id, added, "repaired system default models");
        Ok(responses::RepairSystemDefaultResponse::Ok(Json(success())))
    }
}
