//! The `EnterpriseGroup` tag of the console surface. Every group-scoped handler first
//! asks `authz::admit_*` with the ids it was given; nothing is read before that.

use poem_openapi::payload::Json;

use super::authz::{self, GroupAccess};
use super::views::{self, success};
use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{EnterpriseGroupApi, Operation, responses, schemas};
use crate::domain::groups::{self, Capability, Paged};

/// The contract bounds both (page ≥ 1, limit 1–100) before a handler runs.
fn bounds(page: i32, limit: i32) -> (u64, u64) {
    (page.max(1) as u64, limit.clamp(1, 100) as u64)
}

fn has_more(page: u64, limit: u64, total: u64) -> bool {
    page.saturating_mul(limit) < total
}

fn tenant_page(
    page: i32,
    limit: i32,
    found: Paged<entity::tenant::Model>,
) -> Result<schemas::TenantPage, ConsoleError> {
    let (p, l) = bounds(page, limit);
    Ok(schemas::TenantPage {
        page,
        limit,
        total: found.total as i64,
        has_more: has_more(p, l, found.total),
        data: found
            .items
            .iter()
            .map(views::tenant)
            .collect::<Result<_, _>>()?,
    })
}

fn group_page(
    page: i32,
    limit: i32,
    found: Paged<entity::enterprise_group::Model>,
) -> Result<schemas::GroupPage, ConsoleError> {
    let (p, l) = bounds(page, limit);
    Ok(schemas::GroupPage {
        page,
        limit,
        total: found.total as i64,
        has_more: has_more(p, l, found.total),
        data: found
            .items
            .iter()
            .map(views::group)
            .collect::<Result<_, _>>()?,
    })
}

fn permission(has_permission: bool) -> schemas::PermissionResponse {
    schemas::PermissionResponse { has_permission }
}

impl ConsoleHandlers {
    async fn managed(
        &self,
        principal: &super::ConsolePrincipal,
        op: Operation,
        group_id: uuid::Uuid,
        capability: Capability,
        page: i32,
        limit: i32,
    ) -> Result<schemas::TenantPage, ConsoleError> {
        let access = authz::admit_group(&self.state, principal, op, group_id, None).await?;
        let (p, l) = bounds(page, limit);
        let found = groups::managed_tenants(
            &self.state.db,
            group_id,
            principal.account.id,
            access.is_group_admin(),
            capability,
            p,
            l,
        )
        .await?;
        tenant_page(page, limit, found)
    }

    async fn capability(
        &self,
        principal: &super::ConsolePrincipal,
        op: Operation,
        group_id: uuid::Uuid,
        capability: Capability,
    ) -> Result<(GroupAccess, bool), ConsoleError> {
        let access = authz::admit_group(&self.state, principal, op, group_id, None).await?;
        let has = groups::has_capability(
            &self.state.db,
            group_id,
            principal.account.id,
            access.is_group_admin(),
            capability,
        )
        .await?;
        Ok((access, has))
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
        let found = groups::list(&self.state.db, status.map(|s| s.as_str()), p, l)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListEnterpriseGroupsResponse::Ok(Json(
            group_page(page, limit, found)?,
        )))
    }

    async fn update_enterprise_group(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::UpdateEnterpriseGroupRequest,
    ) -> poem::Result<responses::UpdateEnterpriseGroupResponse> {
        authz::admit_group(
            &self.state,
            &principal,
            Operation::UpdateEnterpriseGroup,
            body.id,
            None,
        )
        .await?;
        let group = groups::update(&self.state, body.id, &body.name, body.short_name)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::UpdateEnterpriseGroupResponse::Ok(Json(
            views::group(&group)?,
        )))
    }

    async fn create_enterprise_group(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        body: schemas::CreateEnterpriseGroupRequest,
    ) -> poem::Result<responses::CreateEnterpriseGroupResponse> {
        groups::create(
            &self.state,
            principal.account.id,
            &body.name,
            body.short_name,
        )
        .await
        .map_err(ConsoleError::from)?;
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
        groups::delete(&self.state, body.id)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::DeleteEnterpriseGroupResponse::Ok(
            Json(success()),
        ))
    }

    async fn get_enterprise_group_info(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
    ) -> poem::Result<responses::GetEnterpriseGroupInfoResponse> {
        let access = authz::admit_group(
            &self.state,
            &principal,
            Operation::GetEnterpriseGroupInfo,
            group_id,
            None,
        )
        .await?;
        Ok(responses::GetEnterpriseGroupInfoResponse::Ok(Json(
            views::group(&access.group)?,
        )))
    }

    async fn list_group_tenants(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
        status: Option<schemas::TenantStatus>,
    ) -> poem::Result<responses::ListGroupTenantsResponse> {
        authz::admit_group(
            &self.state,
            &principal,
            Operation::ListGroupTenants,
            group_id,
            None,
        )
        .await?;
        let (p, l) = bounds(page, limit);
        let found = groups::tenants(&self.state.db, group_id, status.map(|s| s.as_str()), p, l)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListGroupTenantsResponse::Ok(Json(tenant_page(
            page, limit, found,
        )?)))
    }

    async fn create_group_tenant(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        body: schemas::CreateGroupTenantRequest,
    ) -> poem::Result<responses::CreateGroupTenantResponse> {
        authz::admit_group(
            &self.state,
            &principal,
            Operation::CreateGroupTenant,
            group_id,
            None,
        )
        .await?;
        groups::create_tenant(&self.state, group_id, principal.account.id, &body.name)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::CreateGroupTenantResponse::Created(Json(
            schemas::MessageResponse {
                message: "workspace created.".to_string(),
            },
        )))
    }

    async fn list_unjoined_tenants(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        account_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListUnjoinedTenantsResponse> {
        authz::admit_group(
            &self.state,
            &principal,
            Operation::ListUnjoinedTenants,
            group_id,
            Some(account_id),
        )
        .await?;
        let (p, l) = bounds(page, limit);
        let found = groups::tenants_of_account(&self.state.db, group_id, account_id, false, p, l)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListUnjoinedTenantsResponse::Ok(Json(
            tenant_page(page, limit, found)?,
        )))
    }

    async fn list_joined_tenants(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        account_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListJoinedTenantsResponse> {
        authz::admit_group(
            &self.state,
            &principal,
            Operation::ListJoinedTenants,
            group_id,
            Some(account_id),
        )
        .await?;
        let (p, l) = bounds(page, limit);
        let found = groups::tenants_of_account(&self.state.db, group_id, account_id, true, p, l)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListJoinedTenantsResponse::Ok(Json(tenant_page(
            page, limit, found,
        )?)))
    }

    async fn list_joined_tenant_roles(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        account_id: ::uuid::Uuid,
    ) -> poem::Result<responses::ListJoinedTenantRolesResponse> {
        authz::admit_group(
            &self.state,
            &principal,
            Operation::ListJoinedTenantRoles,
            group_id,
            Some(account_id),
        )
        .await?;
        let roles = groups::tenant_roles(&self.state.db, group_id, account_id)
            .await
            .map_err(ConsoleError::from)?;
        let data = roles
            .into_iter()
            .map(|r| {
                Ok(schemas::JoinedTenantRole {
                    tenant_id: r.tenant.id,
                    tenant_name: r.tenant.name,
                    role: views::tenant_role(&r.role)?,
                    position: r.position.unwrap_or_default(),
                    permissions: views::tenant_permissions(&r.permissions),
                })
            })
            .collect::<Result<Vec<_>, ConsoleError>>()?;
        Ok(responses::ListJoinedTenantRolesResponse::Ok(Json(data)))
    }

    async fn list_account_joined_groups(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        account_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListAccountJoinedGroupsResponse> {
        authz::admit_account(
            &self.state,
            &principal,
            Operation::ListAccountJoinedGroups,
            account_id,
        )
        .await?;
        let (p, l) = bounds(page, limit);
        let found = groups::joined_groups(&self.state.db, account_id, p, l)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListAccountJoinedGroupsResponse::Ok(Json(
            group_page(page, limit, found)?,
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
        let found = groups::joined_groups(&self.state.db, principal.account.id, p, l)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListMyJoinedGroupsResponse::Ok(Json(group_page(
            page, limit, found,
        )?)))
    }

    async fn check_manage_permission(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        switch_tenant: bool,
    ) -> poem::Result<responses::CheckManagePermissionResponse> {
        let access = authz::admit_group(
            &self.state,
            &principal,
            Operation::CheckManagePermission,
            group_id,
            None,
        )
        .await?;
        let permitted = access.is_group_admin();
        if permitted && switch_tenant {
            groups::switch_to_shadow(&self.state, group_id, principal.account.id)
                .await
                .map_err(ConsoleError::from)?;
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
            views::current_group(&group, &role)?,
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
        let shadow = groups::shadow(&self.state.db, group.id)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::GetCurrentGroupDetailResponse::Ok(Json(
            schemas::CurrentGroupDetail {
                enterprise_group: views::current_group(&group, &role)?,
                shadow_tenant: views::tenant(&shadow)?,
            },
        )))
    }

    async fn list_managed_tenants(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListManagedTenantsResponse> {
        let data = self
            .managed(
                &principal,
                Operation::ListManagedTenants,
                group_id,
                Capability::Workspace,
                page,
                limit,
            )
            .await?;
        Ok(responses::ListManagedTenantsResponse::Ok(Json(data)))
    }

    async fn list_managed_app_tenants(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListManagedAppTenantsResponse> {
        let data = self
            .managed(
                &principal,
                Operation::ListManagedAppTenants,
                group_id,
                Capability::Apps,
                page,
                limit,
            )
            .await?;
        Ok(responses::ListManagedAppTenantsResponse::Ok(Json(data)))
    }

    async fn list_managed_dataset_tenants(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListManagedDatasetTenantsResponse> {
        let data = self
            .managed(
                &principal,
                Operation::ListManagedDatasetTenants,
                group_id,
                Capability::Datasets,
                page,
                limit,
            )
            .await?;
        Ok(responses::ListManagedDatasetTenantsResponse::Ok(Json(data)))
    }

    async fn list_group_members(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
    ) -> poem::Result<responses::ListGroupMembersResponse> {
        authz::admit_group(
            &self.state,
            &principal,
            Operation::ListGroupMembers,
            group_id,
            None,
        )
        .await?;
        let (p, l) = bounds(page, limit);
        let found = groups::members(&self.state.db, group_id, p, l)
            .await
            .map_err(ConsoleError::from)?;
        Ok(responses::ListGroupMembersResponse::Ok(Json(
            schemas::AccountExPage {
                page,
                limit,
                total: found.total as i64,
                has_more: has_more(p, l, found.total),
                data: found.items.iter().map(views::account_ex).collect(),
            },
        )))
    }

    async fn list_group_datasets(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
        page: i32,
        limit: i32,
        search: Option<String>,
    ) -> poem::Result<responses::ListGroupDatasetsResponse> {
        let access = authz::admit_group(
            &self.state,
            &principal,
            Operation::ListGroupDatasets,
            group_id,
            None,
        )
        .await?;
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
        let found = groups::datasets(
            &self.state.db,
            group_id,
            principal.account.id,
            access.is_group_admin(),
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
                has_more: has_more(p, l, found.total),
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
        principal: Self::Principal,
    ) -> poem::Result<responses::RepairModelProvidersResponse> {
        let access =
            authz::admit_current_group(&self.state, &principal, Operation::RepairModelProviders)
                .await?
                .ok_or(ConsoleError::from(groups::GroupError::GroupNotFound))?;
        let added = groups::repair_model_providers(&self.state, access.group.id)
            .await
            .map_err(ConsoleError::from)?;
        tracing::info!(group = %access.group.id, added, "repaired model providers");
        Ok(responses::RepairModelProvidersResponse::Ok(Json(success())))
    }

    async fn check_app_permission(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
    ) -> poem::Result<responses::CheckAppPermissionResponse> {
        let (_, has) = self
            .capability(
                &principal,
                Operation::CheckAppPermission,
                group_id,
                Capability::Apps,
            )
            .await?;
        Ok(responses::CheckAppPermissionResponse::Ok(Json(permission(
            has,
        ))))
    }

    async fn check_dataset_permission(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        group_id: ::uuid::Uuid,
    ) -> poem::Result<responses::CheckDatasetPermissionResponse> {
        let (_, has) = self
            .capability(
                &principal,
                Operation::CheckDatasetPermission,
                group_id,
                Capability::Datasets,
            )
            .await?;
        Ok(responses::CheckDatasetPermissionResponse::Ok(Json(
            permission(has),
        )))
    }

    async fn repair_system_default(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
    ) -> poem::Result<responses::RepairSystemDefaultResponse> {
        let access =
            authz::admit_current_group(&self.state, &principal, Operation::RepairSystemDefault)
                .await?
                .ok_or(ConsoleError::from(groups::GroupError::GroupNotFound))?;
        let added = groups::repair_system_default(&self.state, access.group.id)
            .await
            .map_err(ConsoleError::from)?;
        tracing::info!(group = %access.group.id, added, "repaired system default models");
        Ok(responses::RepairSystemDefaultResponse::Ok(Json(success())))
    }
}
