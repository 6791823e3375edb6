//! The `EnterpriseGroup` tag of the console surface.

use super::{ConsoleError, ConsoleHandlers};
use crate::api::generated::console::{EnterpriseGroupApi, Operation, responses, schemas};

impl EnterpriseGroupApi for ConsoleHandlers {
    async fn list_enterprise_groups(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _page: i32,
        _limit: i32,
        _status: Option<schemas::GroupStatus>,
    ) -> poem::Result<responses::ListEnterpriseGroupsResponse> {
        Err(ConsoleError::not_implemented(Operation::ListEnterpriseGroups.operation_id()).into())
    }

    async fn update_enterprise_group(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _body: schemas::UpdateEnterpriseGroupRequest,
    ) -> poem::Result<responses::UpdateEnterpriseGroupResponse> {
        Err(ConsoleError::not_implemented(Operation::UpdateEnterpriseGroup.operation_id()).into())
    }

    async fn create_enterprise_group(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _body: schemas::CreateEnterpriseGroupRequest,
    ) -> poem::Result<responses::CreateEnterpriseGroupResponse> {
        Err(ConsoleError::not_implemented(Operation::CreateEnterpriseGroup.operation_id()).into())
    }

    async fn delete_enterprise_group(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _body: schemas::DeleteEnterpriseGroupRequest,
    ) -> poem::Result<responses::DeleteEnterpriseGroupResponse> {
        Err(ConsoleError::not_implemented(Operation::DeleteEnterpriseGroup.operation_id()).into())
    }

    async fn get_enterprise_group_info(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
    ) -> poem::Result<responses::GetEnterpriseGroupInfoResponse> {
        Err(ConsoleError::not_implemented(Operation::GetEnterpriseGroupInfo.operation_id()).into())
    }

    async fn list_group_tenants(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _page: i32,
        _limit: i32,
        _status: Option<schemas::TenantStatus>,
    ) -> poem::Result<responses::ListGroupTenantsResponse> {
        Err(ConsoleError::not_implemented(Operation::ListGroupTenants.operation_id()).into())
    }

    async fn create_group_tenant(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _body: schemas::CreateGroupTenantRequest,
    ) -> poem::Result<responses::CreateGroupTenantResponse> {
        Err(ConsoleError::not_implemented(Operation::CreateGroupTenant.operation_id()).into())
    }

    async fn list_unjoined_tenants(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _account_id: ::uuid::Uuid,
        _page: i32,
        _limit: i32,
    ) -> poem::Result<responses::ListUnjoinedTenantsResponse> {
        Err(ConsoleError::not_implemented(Operation::ListUnjoinedTenants.operation_id()).into())
    }

    async fn list_joined_tenants(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _account_id: ::uuid::Uuid,
        _page: i32,
        _limit: i32,
    ) -> poem::Result<responses::ListJoinedTenantsResponse> {
        Err(ConsoleError::not_implemented(Operation::ListJoinedTenants.operation_id()).into())
    }

    async fn list_joined_tenant_roles(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _account_id: ::uuid::Uuid,
    ) -> poem::Result<responses::ListJoinedTenantRolesResponse> {
        Err(ConsoleError::not_implemented(Operation::ListJoinedTenantRoles.operation_id()).into())
    }

    async fn list_account_joined_groups(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _account_id: ::uuid::Uuid,
        _page: i32,
        _limit: i32,
    ) -> poem::Result<responses::ListAccountJoinedGroupsResponse> {
        Err(ConsoleError::not_implemented(Operation::ListAccountJoinedGroups.operation_id()).into())
    }

    async fn list_my_joined_groups(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _page: i32,
        _limit: i32,
    ) -> poem::Result<responses::ListMyJoinedGroupsResponse> {
        Err(ConsoleError::not_implemented(Operation::ListMyJoinedGroups.operation_id()).into())
    }

    async fn check_manage_permission(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _switch_tenant: bool,
    ) -> poem::Result<responses::CheckManagePermissionResponse> {
        Err(ConsoleError::not_implemented(Operation::CheckManagePermission.operation_id()).into())
    }

    async fn get_current_group(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
    ) -> poem::Result<responses::GetCurrentGroupResponse> {
        Err(ConsoleError::not_implemented(Operation::GetCurrentGroup.operation_id()).into())
    }

    async fn get_current_group_detail(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
    ) -> poem::Result<responses::GetCurrentGroupDetailResponse> {
        Err(ConsoleError::not_implemented(Operation::GetCurrentGroupDetail.operation_id()).into())
    }

    async fn list_managed_tenants(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _page: i32,
        _limit: i32,
    ) -> poem::Result<responses::ListManagedTenantsResponse> {
        Err(ConsoleError::not_implemented(Operation::ListManagedTenants.operation_id()).into())
    }

    async fn list_managed_app_tenants(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _page: i32,
        _limit: i32,
    ) -> poem::Result<responses::ListManagedAppTenantsResponse> {
        Err(ConsoleError::not_implemented(Operation::ListManagedAppTenants.operation_id()).into())
    }

    async fn list_managed_dataset_tenants(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _page: i32,
        _limit: i32,
    ) -> poem::Result<responses::ListManagedDatasetTenantsResponse> {
        Err(
            ConsoleError::not_implemented(Operation::ListManagedDatasetTenants.operation_id())
                .into(),
        )
    }

    async fn list_group_members(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _page: i32,
        _limit: i32,
    ) -> poem::Result<responses::ListGroupMembersResponse> {
        Err(ConsoleError::not_implemented(Operation::ListGroupMembers.operation_id()).into())
    }

    async fn list_group_datasets(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
        _page: i32,
        _limit: i32,
        _search: Option<String>,
    ) -> poem::Result<responses::ListGroupDatasetsResponse> {
        Err(ConsoleError::not_implemented(Operation::ListGroupDatasets.operation_id()).into())
    }

    async fn repair_model_providers(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
    ) -> poem::Result<responses::RepairModelProvidersResponse> {
        Err(ConsoleError::not_implemented(Operation::RepairModelProviders.operation_id()).into())
    }

    async fn check_app_permission(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
    ) -> poem::Result<responses::CheckAppPermissionResponse> {
        Err(ConsoleError::not_implemented(Operation::CheckAppPermission.operation_id()).into())
    }

    async fn check_dataset_permission(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
        _group_id: ::uuid::Uuid,
    ) -> poem::Result<responses::CheckDatasetPermissionResponse> {
        Err(ConsoleError::not_implemented(Operation::CheckDatasetPermission.operation_id()).into())
    }

    async fn repair_system_default(
        &self,
        _ctx: Self::Context,
        _principal: Self::Principal,
    ) -> poem::Result<responses::RepairSystemDefaultResponse> {
        Err(ConsoleError::not_implemented(Operation::RepairSystemDefault.operation_id()).into())
    }
}
