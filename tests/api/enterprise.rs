//! Enterprise groups, their workspaces, members and datasets, through the generated
//! client. One fixture builds two groups with members in every group and workspace role
//! and datasets of every permission kind; each test then calls operations as each kind
//! of caller and checks the answer against what the fixture put there.

use console_client::console::{Client, Error, types};
use entity::{tenant_default_model, tenant_member, tenant_model_provider};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::db_test;
use crate::helpers::TestApp;
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};

const PASSWORD: &str = "password1";

fn refused<T: std::fmt::Debug>(result: Result<T, Error<types::ErrorResponse>>) -> (u16, String) {
    match result {
        Err(Error::ErrorResponse(rv)) => (rv.status().as_u16(), rv.into_inner().code),
        other => panic!("expected an error response, got {other:?}"),
    }
}

fn forbidden() -> (u16, String) {
    (403, "forbidden".to_string())
}

fn group_not_found() -> (u16, String) {
    (404, "group_not_found".to_string())
}

async fn signed_in(app: &TestApp, email: &str, password: &str) -> Client {
    app.console_as(
        &login(&app.console, email, password)
            .await
            .expect("login")
            .access_token,
    )
}

async fn user(app: &TestApp, who: &str) -> Client {
    signed_in(app, &format!("{who}@example.com"), PASSWORD).await
}

async fn register(admin: &Client, email: &str, name: &str) -> Uuid {
    admin
        .register_account()
        .body(types::RegisterAccountRequest {
            email: email.try_into().expect("email"),
            name: name.try_into().expect("name"),
            password: PASSWORD.try_into().expect("password"),
        })
        .send()
        .await
        .expect("register");
    admin
        .get_account_ex_by_email()
        .email(email)
        .send()
        .await
        .expect("find")
        .into_inner()
        .id
}

async fn set_system_role(admin: &Client, id: Uuid, role: types::AssignableRoleType) {
    admin
        .update_account_role()
        .id(id)
        .body(types::UpdateAccountRoleRequest { role_type: role })
        .send()
        .await
        .expect("set system role");
}

async fn invite(client: &Client, email: &str, role: types::InvitableRole) {
    let out = client
        .invite_members_by_email()
        .body(types::InviteMembersRequest {
            emails: vec![email.try_into().expect("email")],
            language: None,
            role,
        })
        .send()
        .await
        .expect("invite")
        .into_inner();
    assert_eq!(
        out.invitation_results[0].status,
        types::InvitationStatus::Success,
        "{out:?}"
    );
}

async fn switch(client: &Client, tenant_id: Uuid) {
    client
        .switch_workspace()
        .body(types::SwitchWorkspaceRequest { tenant_id })
        .send()
        .await
        .expect("switch workspace");
}

async fn tenant_named(client: &Client, group_id: Uuid, name: &str) -> Uuid {
    let page = client
        .list_group_tenants()
        .group_id(group_id)
        .limit(100)
        .send()
        .await
        .expect("tenants")
        .into_inner();
    page.data
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no workspace {name} in {page:?}"))
        .id
}

async fn create_dataset(
    client: &Client,
    name: &str,
    description: &str,
    permission: types::DatasetPermission,
    partial: Vec<Uuid>,
) -> Uuid {
    client
        .create_dataset()
        .body(types::CreateDatasetRequest {
            name: name.try_into().expect("name"),
            description: Some(description.try_into().expect("description")),
            indexing_technique: Some(types::IndexingTechnique::Economy),
            permission: Some(permission),
            partial_member_list: Some(partial),
        })
        .send()
        .await
        .expect("create dataset")
        .into_inner()
        .id
}

/// Two groups. G1 ("Acme"): `gsa` (group super_admin, system role normal), `gadmin`
/// (group admin), and workspaces T1 (owner gsa; admin tadmin, editor, normal,
/// dataset_operator dsop, normal with `create_agent` agent) and T2 (owner gsa; normal
/// gadmin). G2 ("Beta"): created by the system super_admin, workspace T3 with member
/// `beta`. `outsider` is in no group; `sysadmin` is a system_admin in no group.
/// Datasets in T1 by `editor`: only_me, all_team_members, partial_members (listing
/// `normal`); in T2 by gsa: all_team_members; in G1's shadow by gsa: all_team_members;
/// in T3 by admin: all_team_members.
struct World {
    admin: Client,
    admin_id: Uuid,
    default_group: Uuid,
    g1: Uuid,
    g2: Uuid,
    t1: Uuid,
    t2: Uuid,
    t3: Uuid,
    gsa: Client,
    gsa_id: Uuid,
    gadmin: Client,
    gadmin_id: Uuid,
    tadmin: Client,
    editor: Client,
    editor_id: Uuid,
    normal: Client,
    normal_id: Uuid,
    dsop: Client,
    agent: Client,
    agent_id: Uuid,
    beta: Client,
    beta_id: Uuid,
    outsider: Client,
    outsider_id: Uuid,
    sysadmin: Client,
    private_ds: Uuid,
    team_ds: Uuid,
    partial_ds: Uuid,
    t2_ds: Uuid,
    shadow_ds: Uuid,
}

async fn world(app: &TestApp) -> World {
    setup(app).await;
    let admin = signed_in(app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let admin_id = admin
        .get_account_ex_profile()
        .send()
        .await
        .expect("profile")
        .id;
    let default_group = admin.get_current_group().send().await.expect("current").id;
    let mut ids = std::collections::HashMap::new();
    for who in [
        "gsa", "gadmin", "tadmin", "editor", "normal", "dsop", "agent", "beta", "outsider",
        "sysadmin",
    ] {
        let id = register(&admin, &format!("{who}@example.com"), who).await;
        ids.insert(who, id);
    }
    let id = |who: &str| ids[who];

    // gsa creates G1 while a system_admin, then goes back to normal: a group super_admin
    // with no system role.
    set_system_role(&admin, id("gsa"), types::AssignableRoleType::SystemAdmin).await;
    set_system_role(
        &admin,
        id("sysadmin"),
        types::AssignableRoleType::SystemAdmin,
    )
    .await;
    let gsa = user(app, "gsa").await;
    gsa.create_enterprise_group()
        .body(types::CreateEnterpriseGroupRequest {
            name: "Acme".try_into().expect("name"),
            short_name: Some("AC".try_into().expect("short")),
        })
        .send()
        .await
        .expect("create G1");
    set_system_role(&admin, id("gsa"), types::AssignableRoleType::Normal).await;
    let g1 = gsa
        .get_current_group()
        .send()
        .await
        .expect("gsa's current group")
        .id;
    for name in ["T1", "T2"] {
        gsa.create_group_tenant()
            .group_id(g1)
            .body(types::CreateGroupTenantRequest {
                name: name.try_into().expect("name"),
            })
            .send()
            .await
            .expect("create tenant");
    }
    let t1 = tenant_named(&gsa, g1, "T1").await;
    let t2 = tenant_named(&gsa, g1, "T2").await;
    switch(&gsa, t1).await;
    for (who, role) in [
        ("tadmin", types::InvitableRole::Admin),
        ("editor", types::InvitableRole::Editor),
        ("normal", types::InvitableRole::Normal),
        ("dsop", types::InvitableRole::DatasetOperator),
        ("agent", types::InvitableRole::Normal),
    ] {
        invite(&gsa, &format!("{who}@example.com"), role).await;
    }
    switch(&gsa, t2).await;
    invite(&gsa, "gadmin@example.com", types::InvitableRole::Normal).await;
    // Joining a workspace made gadmin a normal member of G1; gsa makes it an admin.
    gsa.update_account_ex()
        .id(id("gadmin"))
        .body(types::UpdateAccountExRequest {
            name: None,
            avatar: None,
            status: None,
            mobile: None,
            role_type: None,
            group_role: Some(types::AssignableGroupRole::Admin),
        })
        .send()
        .await
        .expect("make gadmin a group admin");
    // No operation sets positions or extra permissions yet: the fixture writes them.
    for (who, position, permissions) in [
        ("agent", Some("Engineer"), r#"["create_agent"]"#),
        ("normal", None, "[]"),
    ] {
        let member = tenant_member::Entity::find()
            .filter(tenant_member::Column::TenantId.eq(t1))
            .filter(tenant_member::Column::AccountId.eq(id(who)))
            .one(&app.state.db)
            .await
            .expect("query")
            .expect("member");
        let mut member: tenant_member::ActiveModel = member.into();
        member.position = Set(position.map(str::to_string));
        member.permissions = Set(permissions.to_string());
        member.update(&app.state.db).await.expect("update member");
    }

    admin
        .create_enterprise_group()
        .body(types::CreateEnterpriseGroupRequest {
            name: "Beta".try_into().expect("name"),
            short_name: None,
        })
        .send()
        .await
        .expect("create G2");
    let g2 = admin
        .list_my_joined_groups()
        .send()
        .await
        .expect("joined")
        .into_inner()
        .data
        .iter()
        .find(|g| g.name == "Beta")
        .expect("Beta")
        .id;
    admin
        .create_group_tenant()
        .group_id(g2)
        .body(types::CreateGroupTenantRequest {
            name: "T3".try_into().expect("name"),
        })
        .send()
        .await
        .expect("create T3");
    let t3 = tenant_named(&admin, g2, "T3").await;
    let admin_home = admin
        .list_workspaces()
        .send()
        .await
        .expect("workspaces")
        .into_inner()
        .workspaces
        .iter()
        .find(|w| w.current)
        .expect("current")
        .id;
    switch(&admin, t3).await;
    invite(&admin, "beta@example.com", types::InvitableRole::Normal).await;

    let editor = user(app, "editor").await;
    let normal_id = id("normal");
    let private_ds = create_dataset(
        &editor,
        "Editor private",
        "drafts",
        types::DatasetPermission::OnlyMe,
        vec![],
    )
    .await;
    let team_ds = create_dataset(
        &editor,
        "Team Handbook",
        "how we work",
        types::DatasetPermission::AllTeamMembers,
        vec![],
    )
    .await;
    let partial_ds = create_dataset(
        &editor,
        "Partial notes",
        "for a few",
        types::DatasetPermission::PartialMembers,
        vec![normal_id],
    )
    .await;
    let t2_ds = create_dataset(
        &gsa,
        "T2 shared",
        "second workspace",
        types::DatasetPermission::AllTeamMembers,
        vec![],
    )
    .await;
    assert!(
        gsa.check_manage_permission()
            .group_id(g1)
            .switch_tenant(true)
            .send()
            .await
            .expect("switch to shadow")
            .has_permission
    );
    let shadow_ds = create_dataset(
        &gsa,
        "Group level",
        "kept in the shadow",
        types::DatasetPermission::AllTeamMembers,
        vec![],
    )
    .await;
    create_dataset(
        &admin,
        "Beta data",
        "other group",
        types::DatasetPermission::AllTeamMembers,
        vec![],
    )
    .await;
    switch(&admin, admin_home).await;

    World {
        default_group,
        g1,
        g2,
        t1,
        t2,
        t3,
        gsa,
        gsa_id: id("gsa"),
        gadmin: user(app, "gadmin").await,
        gadmin_id: id("gadmin"),
        tadmin: user(app, "tadmin").await,
        editor,
        editor_id: id("editor"),
        normal: user(app, "normal").await,
        normal_id,
        dsop: user(app, "dsop").await,
        agent: user(app, "agent").await,
        agent_id: id("agent"),
        beta: user(app, "beta").await,
        beta_id: id("beta"),
        outsider: user(app, "outsider").await,
        outsider_id: id("outsider"),
        sysadmin: user(app, "sysadmin").await,
        admin,
        admin_id,
        private_ds,
        team_ds,
        partial_ds,
        t2_ds,
        shadow_ds,
    }
}

db_test!(async fn groups_are_created_listed_updated_and_deleted_by_the_rules(app) {
    let w = world(&app).await;
    // Listing: system admins only; newest first, ties by id; status filter; bounds.
    let page = w.sysadmin.list_enterprise_groups().limit(2).send().await.expect("list").into_inner();
    assert_eq!((page.total, page.has_more, page.data.len()), (3, true, 2));
    assert_eq!(page.data[0].id, w.g2);
    assert_eq!(page.data[1].id, w.g1);
    assert_eq!(page.data[1].short_name.as_deref(), Some("AC"));
    let rest = w.admin.list_enterprise_groups().page(2).limit(2).send().await.expect("page 2").into_inner();
    assert_eq!((rest.data.len(), rest.has_more), (1, false));
    assert_eq!(rest.data[0].id, w.default_group);
    let archived = w.admin.list_enterprise_groups().status(types::GroupStatus::Archived).send().await.expect("archived");
    assert_eq!(archived.total, 0);
    for client in [&w.gsa, &w.gadmin, &w.normal, &w.outsider] {
        assert_eq!(refused(client.list_enterprise_groups().send().await), forbidden());
        assert_eq!(
            refused(client.create_enterprise_group().body(types::CreateEnterpriseGroupRequest {
                name: "Nope".try_into().expect("name"),
                short_name: None,
            }).send().await),
            forbidden()
        );
    }
    for bad in ["limit=0", "limit=101", "page=0", "page=x"] {
        let resp = app.http.get(app.url(&format!("/console/api/enterprise-groups?{bad}")))
            .bearer_auth(admin_token(&app).await).send().await.expect("send");
        assert_eq!(resp.status().as_u16(), 400, "{bad}");
    }
    // A name is unique among active groups.
    assert_eq!(
        refused(w.admin.create_enterprise_group().body(types::CreateEnterpriseGroupRequest {
            name: "Acme".try_into().expect("name"),
            short_name: None,
        }).send().await),
        (409, "conflict".to_string())
    );

    // Update: the group's super_admin and system admins; the shadow workspace follows.
    let renamed = w.gsa.update_enterprise_group().body(types::UpdateEnterpriseGroupRequest {
        id: w.g1,
        name: "Acme Corp".try_into().expect("name"),
        short_name: None,
    }).send().await.expect("gsa renames G1").into_inner();
    assert_eq!((renamed.name.as_str(), renamed.short_name.as_deref()), ("Acme Corp", Some("AC")));
    let detail = w.gsa.get_current_group_detail().send().await.expect("detail").into_inner();
    assert_eq!(detail.shadow_tenant.name, "Acme Corp");
    assert_eq!(detail.shadow_tenant.id, w.g1);
    for client in [&w.gadmin, &w.normal, &w.outsider, &w.beta] {
        let update = types::UpdateEnterpriseGroupRequest { id: w.g1, name: "Hijack".try_into().expect("name"), short_name: None };
        assert_eq!(refused(client.update_enterprise_group().body(update).send().await), forbidden());
    }
    w.sysadmin.update_enterprise_group().body(types::UpdateEnterpriseGroupRequest {
        id: w.g1,
        name: "Acme".try_into().expect("name"),
        short_name: Some("".try_into().expect("short")),
    }).send().await.expect("system admin renames");
    let info = w.normal.get_enterprise_group_info().group_id(w.g1).send().await.expect("info").into_inner();
    assert_eq!((info.name.as_str(), info.short_name), ("Acme", None));
    let ghost = types::UpdateEnterpriseGroupRequest { id: Uuid::now_v7(), name: "x".try_into().expect("name"), short_name: None };
    assert_eq!(refused(w.admin.update_enterprise_group().body(ghost).send().await), group_not_found());

    // Delete: refused while workspaces remain, and for the last group; nothing implicit.
    let del = |id| types::DeleteEnterpriseGroupRequest { id };
    assert_eq!(refused(w.admin.delete_enterprise_group().body(del(w.g1)).send().await), (409, "conflict".to_string()));
    assert_eq!(refused(w.gsa.delete_enterprise_group().body(del(w.g1)).send().await), forbidden());
    assert_eq!(refused(w.admin.delete_enterprise_group().body(del(Uuid::now_v7())).send().await), group_not_found());
    w.admin.create_enterprise_group().body(types::CreateEnterpriseGroupRequest {
        name: "Empty".try_into().expect("name"),
        short_name: None,
    }).send().await.expect("create empty");
    let empty = w.admin.list_enterprise_groups().limit(1).send().await.expect("list").into_inner().data[0].id;
    w.sysadmin.delete_enterprise_group().body(del(empty)).send().await.expect("delete empty group");
    assert_eq!(refused(w.admin.get_enterprise_group_info().group_id(empty).send().await), group_not_found());
    let total = w.admin.list_enterprise_groups().send().await.expect("list").into_inner().total;
    assert_eq!(total, 3);
    // The admin's current group did not change by creating or deleting other groups.
    assert_eq!(w.admin.get_current_group().send().await.expect("current").id, w.default_group);
});

async fn admin_token(app: &TestApp) -> String {
    login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("login")
        .access_token
}

db_test!(async fn the_last_group_cannot_be_deleted(app) {
    setup(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let group = admin.get_current_group().send().await.expect("current").into_inner();
    assert_eq!((group.name.as_str(), group.group_role), ("Default Group", types::GroupRole::SuperAdmin));
    // Its only workspace is the admin's: that refuses first.
    let first = admin.delete_enterprise_group().body(types::DeleteEnterpriseGroupRequest { id: group.id }).send().await;
    let message = |r: Result<_, Error<types::ErrorResponse>>| match r {
        Err(Error::ErrorResponse(rv)) => (rv.status().as_u16(), rv.into_inner().message),
        other => panic!("expected an error, got {other:?}"),
    };
    let (status, text) = message(first.map(|_| ()));
    assert_eq!(status, 409);
    assert!(text.contains("workspace"), "{text}");
    let ws = admin.list_workspaces().send().await.expect("workspaces").into_inner().workspaces;
    assert_eq!(ws.len(), 1);
    entity::tenant::Entity::delete_many()
        .filter(entity::tenant::Column::Id.ne(group.id))
        .exec(&app.state.db)
        .await
        .expect("remove the workspace");
    let second = admin.delete_enterprise_group().body(types::DeleteEnterpriseGroupRequest { id: group.id }).send().await;
    let (status, text) = message(second.map(|_| ()));
    assert_eq!(status, 409);
    assert!(text.contains("last"), "{text}");
    assert_eq!(admin.get_enterprise_group_info().group_id(group.id).send().await.expect("still there").id, group.id);
});

db_test!(async fn info_current_and_joined_groups_show_each_caller_its_own(app) {
    let w = world(&app).await;
    // info: members and system admins; everybody else is told the group does not exist.
    for client in [&w.gsa, &w.gadmin, &w.normal, &w.editor, &w.sysadmin, &w.admin] {
        assert_eq!(client.get_enterprise_group_info().group_id(w.g1).send().await.expect("info").id, w.g1);
    }
    for client in [&w.outsider, &w.beta] {
        assert_eq!(refused(client.get_enterprise_group_info().group_id(w.g1).send().await), group_not_found());
    }
    assert_eq!(refused(w.sysadmin.get_enterprise_group_info().group_id(Uuid::now_v7()).send().await), group_not_found());

    // current / current-detail: the caller's group and role; 404 without a group.
    let current = w.gadmin.get_current_group().send().await.expect("current").into_inner();
    assert_eq!((current.id, current.group_role), (w.g1, types::GroupRole::Admin));
    let current = w.normal.get_current_group().send().await.expect("current").into_inner();
    assert_eq!((current.id, current.group_role), (w.g1, types::GroupRole::Normal));
    let detail = w.beta.get_current_group_detail().send().await.expect("detail").into_inner();
    assert_eq!((detail.enterprise_group.id, detail.shadow_tenant.id, detail.shadow_tenant.name.as_str()), (w.g2, w.g2, "Beta"));
    assert_eq!(refused(w.outsider.get_current_group().send().await), group_not_found());
    assert_eq!(refused(w.outsider.get_current_group_detail().send().await), group_not_found());

    // joined-groups: the caller's own page.
    let mine = w.admin.list_my_joined_groups().send().await.expect("mine").into_inner();
    let ids: Vec<Uuid> = mine.data.iter().map(|g| g.id).collect();
    assert_eq!(ids, vec![w.g2, w.default_group]);
    assert_eq!(w.outsider.list_my_joined_groups().send().await.expect("none").total, 0);
    let one = w.admin.list_my_joined_groups().limit(1).send().await.expect("one").into_inner();
    assert_eq!((one.total, one.has_more, one.data.len()), (2, true, 1));

    // joined-groups/{account_id}: the account, admins of one of its groups, system admins.
    for client in [&w.normal, &w.gsa, &w.gadmin, &w.sysadmin, &w.admin] {
        let page = client.list_account_joined_groups().account_id(w.normal_id).send().await.expect("allowed").into_inner();
        assert_eq!(page.data.iter().map(|g| g.id).collect::<Vec<_>>(), vec![w.g1]);
    }
    for client in [&w.editor, &w.outsider, &w.beta] {
        assert_eq!(refused(client.list_account_joined_groups().account_id(w.normal_id).send().await), forbidden());
    }
    assert_eq!(refused(w.gsa.list_account_joined_groups().account_id(w.beta_id).send().await), forbidden());
    assert_eq!(
        refused(w.sysadmin.list_account_joined_groups().account_id(Uuid::now_v7()).send().await),
        (404, "account_not_found".to_string())
    );
});

db_test!(async fn group_workspaces_are_listed_and_created_by_group_admins(app) {
    let w = world(&app).await;
    for client in [&w.gsa, &w.gadmin] {
        let page = client.list_group_tenants().group_id(w.g1).send().await.expect("tenants").into_inner();
        // Newest first; the shadow workspace is not listed.
        assert_eq!(page.data.iter().map(|t| t.id).collect::<Vec<_>>(), vec![w.t2, w.t1]);
        assert_eq!((page.total, page.has_more), (2, false));
    }
    let first = w.gsa.list_group_tenants().group_id(w.g1).limit(1).send().await.expect("p1").into_inner();
    let second = w.gsa.list_group_tenants().group_id(w.g1).page(2).limit(1).send().await.expect("p2").into_inner();
    assert_eq!((first.data[0].id, first.has_more, second.data[0].id, second.has_more), (w.t2, true, w.t1, false));
    let archived = w.gsa.list_group_tenants().group_id(w.g1).status(types::TenantStatus::Archive).send().await.expect("archived");
    assert_eq!(archived.total, 0);
    for client in [&w.tadmin, &w.normal, &w.sysadmin, &w.outsider, &w.admin] {
        assert_eq!(refused(client.list_group_tenants().group_id(w.g1).send().await), forbidden());
    }
    assert_eq!(refused(w.gsa.list_group_tenants().group_id(w.g2).send().await), forbidden());

    // Creating: 201 with Dify's message; the creator owns it; shadow model settings copied.
    insert_shadow_models(&app, w.g1).await;
    let created = w.gadmin.create_group_tenant().group_id(w.g1)
        .body(types::CreateGroupTenantRequest { name: "T4".try_into().expect("name") })
        .send().await.expect("create").into_inner();
    assert_eq!(created.message, "workspace created.");
    let t4 = tenant_named(&w.gsa, w.g1, "T4").await;
    let roles = w.gadmin.list_joined_tenant_roles().group_id(w.g1).account_id(w.gadmin_id).send().await.expect("roles").into_inner();
    let t4_role = roles.iter().find(|r| r.tenant_id == t4).expect("joined T4");
    assert_eq!(t4_role.role, types::TenantRole::Owner);
    let defaults = w.gadmin.get_workspace_model_defaults().tenant_id(t4).send().await.expect("defaults").into_inner();
    assert_eq!(defaults.model_providers.iter().map(|p| p.provider_name.as_str()).collect::<Vec<_>>(), vec!["anthropic", "openai"]);
    assert_eq!(defaults.default_models.len(), 2);
    for client in [&w.tadmin, &w.normal, &w.outsider, &w.sysadmin] {
        assert_eq!(
            refused(client.create_group_tenant().group_id(w.g1).body(types::CreateGroupTenantRequest { name: "X".try_into().expect("name") }).send().await),
            forbidden()
        );
    }
    assert_eq!(refused(w.admin.create_group_tenant().group_id(Uuid::now_v7()).body(types::CreateGroupTenantRequest { name: "X".try_into().expect("name") }).send().await), forbidden());
});

db_test!(async fn joined_and_unjoined_workspaces_for_admins_and_the_account_itself(app) {
    let w = world(&app).await;
    for client in [&w.gsa, &w.gadmin, &w.normal] {
        let joined = client.list_joined_tenants().group_id(w.g1).account_id(w.normal_id).send().await.expect("joined").into_inner();
        assert_eq!(joined.data.iter().map(|t| t.id).collect::<Vec<_>>(), vec![w.t1]);
        let unjoined = client.list_unjoined_tenants().group_id(w.g1).account_id(w.normal_id).send().await.expect("unjoined").into_inner();
        assert_eq!(unjoined.data.iter().map(|t| t.id).collect::<Vec<_>>(), vec![w.t2]);
        let roles = client.list_joined_tenant_roles().group_id(w.g1).account_id(w.normal_id).send().await.expect("roles").into_inner();
        assert_eq!(roles.len(), 1);
        assert_eq!((roles[0].tenant_id, roles[0].tenant_name.as_str(), roles[0].role), (w.t1, "T1", types::TenantRole::Normal));
        assert!(roles[0].permissions.is_empty());
    }
    let agent = w.gsa.list_joined_tenant_roles().group_id(w.g1).account_id(w.agent_id).send().await.expect("agent").into_inner();
    assert_eq!((agent[0].position.as_str(), agent[0].permissions.clone()), ("Engineer", vec![types::TenantPermission::CreateAgent]));
    let gsa_roles = w.gsa.list_joined_tenant_roles().group_id(w.g1).account_id(w.gsa_id).send().await.expect("gsa").into_inner();
    assert_eq!(gsa_roles.iter().map(|r| (r.tenant_id, r.role)).collect::<Vec<_>>(), vec![(w.t2, types::TenantRole::Owner), (w.t1, types::TenantRole::Owner)]);
    // Another member, a workspace admin, outsiders and system admins may not look.
    for client in [&w.editor, &w.tadmin, &w.outsider, &w.sysadmin, &w.beta] {
        assert_eq!(refused(client.list_joined_tenants().group_id(w.g1).account_id(w.normal_id).send().await), forbidden());
        assert_eq!(refused(client.list_unjoined_tenants().group_id(w.g1).account_id(w.normal_id).send().await), forbidden());
        assert_eq!(refused(client.list_joined_tenant_roles().group_id(w.g1).account_id(w.normal_id).send().await), forbidden());
    }
    // The account itself, in a group it is not in: refused, or the group's workspace names
    // would reach an outsider (tests/api/attacks/small_holes.rs).
    assert_eq!(refused(w.outsider.list_unjoined_tenants().group_id(w.g1).account_id(w.outsider_id).send().await), forbidden());
    assert_eq!(refused(w.gsa.list_joined_tenants().group_id(w.g1).account_id(Uuid::now_v7()).send().await), (404, "account_not_found".to_string()));
    // An unknown account has joined nothing, yet it gets a 404, not every workspace as "unjoined".
    assert_eq!(refused(w.gsa.list_unjoined_tenants().group_id(w.g1).account_id(Uuid::now_v7()).send().await), (404, "account_not_found".to_string()));
    assert_eq!(refused(w.gsa.list_joined_tenant_roles().group_id(w.g1).account_id(Uuid::now_v7()).send().await), (404, "account_not_found".to_string()));
    let paged = w.gsa.list_unjoined_tenants().group_id(w.g1).account_id(w.beta_id).limit(1).send().await.expect("paged").into_inner();
    assert_eq!((paged.total, paged.has_more, paged.data[0].id), (2, true, w.t2));
});

db_test!(async fn managed_workspaces_and_permission_checks_follow_roles(app) {
    let w = world(&app).await;
    type Case<'a> = (&'a str, &'a Client, Vec<Uuid>, Vec<Uuid>, Vec<Uuid>, bool);
    let all = vec![w.t2, w.t1];
    let cases: Vec<Case> = vec![
        ("gsa", &w.gsa, all.clone(), all.clone(), all.clone(), true),
        ("gadmin", &w.gadmin, all.clone(), all.clone(), all.clone(), true),
        ("tadmin", &w.tadmin, vec![w.t1], vec![w.t1], vec![w.t1], false),
        ("editor", &w.editor, vec![], vec![w.t1], vec![w.t1], false),
        ("dsop", &w.dsop, vec![], vec![], vec![w.t1], false),
        ("agent", &w.agent, vec![], vec![w.t1], vec![], false),
        ("normal", &w.normal, vec![], vec![], vec![], false),
        ("sysadmin", &w.sysadmin, vec![], vec![], vec![], false),
    ];
    for (who, client, manage, apps, datasets, admin) in cases {
        let ids = |p: types::TenantPage| p.data.iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(client.list_managed_tenants().group_id(w.g1).send().await.expect("managed").into_inner()), manage, "{who} managed");
        assert_eq!(ids(client.list_managed_app_tenants().group_id(w.g1).send().await.expect("apps").into_inner()), apps, "{who} apps");
        assert_eq!(ids(client.list_managed_dataset_tenants().group_id(w.g1).send().await.expect("datasets").into_inner()), datasets, "{who} datasets");
        assert_eq!(client.check_app_permission().group_id(w.g1).send().await.expect("app").has_permission, !apps.is_empty(), "{who}");
        assert_eq!(client.check_dataset_permission().group_id(w.g1).send().await.expect("ds").has_permission, !datasets.is_empty(), "{who}");
        assert_eq!(client.check_manage_permission().group_id(w.g1).send().await.expect("manage").has_permission, admin, "{who}");
    }
    for client in [&w.outsider, &w.beta] {
        assert_eq!(refused(client.list_managed_tenants().group_id(w.g1).send().await), group_not_found());
        assert_eq!(refused(client.list_managed_app_tenants().group_id(w.g1).send().await), group_not_found());
        assert_eq!(refused(client.list_managed_dataset_tenants().group_id(w.g1).send().await), group_not_found());
        assert_eq!(refused(client.check_app_permission().group_id(w.g1).send().await), group_not_found());
        assert_eq!(refused(client.check_dataset_permission().group_id(w.g1).send().await), group_not_found());
        assert_eq!(refused(client.check_manage_permission().group_id(w.g1).send().await), group_not_found());
    }
    let paged = w.gsa.list_managed_tenants().group_id(w.g1).limit(1).page(2).send().await.expect("paged").into_inner();
    assert_eq!((paged.total, paged.has_more, paged.data[0].id), (2, false, w.t1));

    // switch_tenant: only when permitted; the shadow workspace becomes current.
    assert!(!w.normal.check_manage_permission().group_id(w.g1).switch_tenant(true).send().await.expect("normal").has_permission);
    let current = w.normal.list_workspaces().send().await.expect("ws").into_inner().workspaces;
    assert_eq!(current.iter().find(|x| x.current).map(|x| x.id), Some(w.t1));
    assert!(w.gadmin.check_manage_permission().group_id(w.g1).switch_tenant(true).send().await.expect("gadmin").has_permission);
    let current = w.gadmin.list_workspaces().send().await.expect("ws").into_inner().workspaces;
    let shadow = current.iter().find(|x| x.current).expect("current");
    assert_eq!((shadow.id, shadow.role), (w.g1, types::TenantRole::Admin));
});

db_test!(async fn members_list_the_group_with_its_roles(app) {
    let w = world(&app).await;
    for client in [&w.gsa, &w.gadmin, &w.sysadmin, &w.admin] {
        let page = client.list_group_members().group_id(w.g1).limit(100).send().await.expect("members").into_inner();
        assert_eq!(page.total, 7);
        let role = |id: Uuid| page.data.iter().find(|a| a.id == id).and_then(|a| a.group_role);
        assert_eq!(role(w.gsa_id), Some(types::GroupRole::SuperAdmin));
        assert_eq!(role(w.gadmin_id), Some(types::GroupRole::Admin));
        assert_eq!(role(w.normal_id), Some(types::GroupRole::Normal));
        assert_eq!(role(w.outsider_id), None);
        let gsa = page.data.iter().find(|a| a.id == w.gsa_id).expect("gsa");
        assert_eq!(gsa.account_role.as_ref().map(|r| r.role_type), Some(types::RoleType::Normal));
        assert!(gsa.extension.is_none());
        // Newest member first: gadmin joined last.
        assert_eq!(page.data[0].id, w.gadmin_id);
        assert_eq!(page.data.last().map(|a| a.id), Some(w.gsa_id));
    }
    let p1 = w.gsa.list_group_members().group_id(w.g1).limit(3).send().await.expect("p1").into_inner();
    let p3 = w.gsa.list_group_members().group_id(w.g1).page(3).limit(3).send().await.expect("p3").into_inner();
    assert_eq!((p1.has_more, p1.data.len(), p3.has_more, p3.data.len()), (true, 3, false, 1));
    for client in [&w.tadmin, &w.normal, &w.beta] {
        assert_eq!(refused(client.list_group_members().group_id(w.g1).send().await), forbidden());
    }
    assert_eq!(refused(w.outsider.list_group_members().group_id(w.g1).send().await), forbidden());
    assert_eq!(refused(w.sysadmin.list_group_members().group_id(Uuid::now_v7()).send().await), group_not_found());
    // The admin's group G2 has admin and beta.
    let g2 = w.admin.list_group_members().group_id(w.g2).send().await.expect("g2").into_inner();
    assert_eq!(g2.data.iter().map(|a| a.id).collect::<Vec<_>>(), vec![w.beta_id, w.admin_id]);
});

db_test!(async fn datasets_are_shown_by_group_role_membership_and_permission(app) {
    let w = world(&app).await;
    let everything = vec![w.shadow_ds, w.t2_ds, w.partial_ds, w.team_ds, w.private_ds];
    type Case<'a> = (&'a str, &'a Client, Vec<Uuid>);
    let cases: Vec<Case> = vec![
        ("gsa", &w.gsa, everything.clone()),
        ("gadmin", &w.gadmin, everything.clone()),
        ("editor", &w.editor, vec![w.partial_ds, w.team_ds, w.private_ds]),
        ("normal", &w.normal, vec![w.partial_ds, w.team_ds]),
        ("tadmin", &w.tadmin, vec![w.team_ds]),
        ("dsop", &w.dsop, vec![w.team_ds]),
        ("sysadmin", &w.sysadmin, vec![]),
    ];
    for (who, client, expected) in cases {
        let page = client.list_group_datasets().group_id(w.g1).send().await.expect("datasets").into_inner();
        assert_eq!(page.data.iter().map(|d| d.id).collect::<Vec<_>>(), expected, "{who}");
        assert_eq!(page.total as usize, expected.len(), "{who}");
    }
    let page = w.gsa.list_group_datasets().group_id(w.g1).search("HANDBOOK").send().await.expect("search").into_inner();
    assert_eq!(page.data.len(), 1);
    let handbook = &page.data[0];
    assert_eq!((handbook.id, handbook.permission, handbook.provider), (w.team_ds, types::DatasetPermission::AllTeamMembers, types::DatasetProvider::Vendor));
    assert_eq!(handbook.owner_account.as_ref().map(|o| o.name.as_str()), Some("editor"));
    assert_eq!(handbook.tenant.name, "T1");
    assert_eq!(handbook.created_by, w.editor_id);
    assert_eq!(handbook.indexing_technique, Some(types::IndexingTechnique::Economy));
    assert_eq!(handbook.retrieval_model_dict.top_k, 2);
    // Search covers descriptions, and % / _ are literal.
    let by_description = w.gsa.list_group_datasets().group_id(w.g1).search("Shadow").send().await.expect("desc").into_inner();
    assert_eq!(by_description.data.iter().map(|d| d.id).collect::<Vec<_>>(), vec![w.shadow_ds]);
    assert_eq!(w.gsa.list_group_datasets().group_id(w.g1).search("%").send().await.expect("%").total, 0);
    let paged = w.gsa.list_group_datasets().group_id(w.g1).page(2).limit(2).send().await.expect("p2").into_inner();
    assert_eq!((paged.total, paged.has_more), (5, true));
    assert_eq!(paged.data.iter().map(|d| d.id).collect::<Vec<_>>(), vec![w.partial_ds, w.team_ds]);
    for client in [&w.outsider, &w.beta] {
        assert_eq!(refused(client.list_group_datasets().group_id(w.g1).send().await), group_not_found());
    }
    // Creating: only roles that manage datasets in the current workspace.
    for client in [&w.normal, &w.agent, &w.outsider, &w.sysadmin] {
        let body = types::CreateDatasetRequest {
            name: "nope".try_into().expect("name"),
            description: None,
            indexing_technique: None,
            permission: None,
            partial_member_list: None,
        };
        assert_eq!(refused(client.create_dataset().body(body).send().await), forbidden());
    }
    let body = types::CreateDatasetRequest {
        name: "bad list".try_into().expect("name"),
        description: None,
        indexing_technique: None,
        permission: Some(types::DatasetPermission::PartialMembers),
        partial_member_list: Some(vec![w.beta_id]),
    };
    assert_eq!(refused(w.editor.create_dataset().body(body).send().await), (400, "invalid_param".to_string()));
});

db_test!(async fn dataset_search_folds_unicode_and_takes_the_term_literally(app) {
    let w = world(&app).await;
    // gsa's current workspace is G1's shadow now; each dataset is found at once.
    let apples = create_dataset(&w.gsa, "ÄPFEL Ernte", "Obst", types::DatasetPermission::AllTeamMembers, vec![]).await;
    let percent = create_dataset(&w.gsa, "100% done_ok", "plain", types::DatasetPermission::AllTeamMembers, vec![]).await;
    let quoted = create_dataset(&w.gsa, r#"Say "hi" now"#, r"back\slash", types::DatasetPermission::AllTeamMembers, vec![]).await;
    let mut reports = Vec::new();
    for n in 0..5 {
        reports.push(create_dataset(&w.gsa, &format!("Weekly REPORT {n}"), "numbers", types::DatasetPermission::AllTeamMembers, vec![]).await);
    }
    reports.reverse();
    let found = |client: &Client, term: &'static str| {
        let client = client.clone();
        async move {
            let page = client.list_group_datasets().group_id(w.g1).search(term).limit(100).send().await.expect("search").into_inner();
            assert_eq!(page.total as usize, page.data.len(), "{term}");
            page.data.iter().map(|d| d.id).collect::<Vec<_>>()
        }
    };
    // Unicode case folding, for terms of any length (1 and 2 characters too).
    for term in ["äpfel", "ÄPFEL", "Äpfel ernte", "pfel", "äp", "Ä", "obst"] {
        assert_eq!(found(&w.gsa, term).await, vec![apples], "{term}");
    }
    // LIKE metacharacters, quotes and backslashes are literal.
    for term in ["%", "_", "0% d", "done_ok", "% done_"] {
        assert_eq!(found(&w.gsa, term).await, vec![percent], "{term}");
    }
    for term in ["e-o", "%d%", "1_0"] {
        assert_eq!(found(&w.gsa, term).await, Vec::<Uuid>::new(), "{term}");
    }
    for term in [r#""hi""#, r#"say "h"#, "\\", r"k\s", "\"", r#"""#] {
        assert_eq!(found(&w.gsa, term).await, vec![quoted], "{term}");
    }
    // No match across the end of the name and the start of the description.
    assert_eq!(found(&w.gsa, "ernteobst").await, Vec::<Uuid>::new());
    assert_eq!(found(&w.gsa, "handbookhow").await, Vec::<Uuid>::new());
    // Exact totals and newest-first pages of a search.
    assert_eq!(found(&w.gsa, "report").await, reports);
    let p2 = w.gsa.list_group_datasets().group_id(w.g1).search("Report").page(2).limit(2).send().await.expect("p2").into_inner();
    assert_eq!((p2.total, p2.has_more), (5, true));
    assert_eq!(p2.data.iter().map(|d| d.id).collect::<Vec<_>>(), reports[2..4].to_vec());
    let p2 = w.gsa.list_group_datasets().group_id(w.g1).search("re").page(2).limit(2).send().await.expect("p2").into_inner();
    assert_eq!(p2.total, 5 + 1, "the five reports and \"T2 shared\"");
    // Searching keeps the visibility rules: `normal` sees the partial and team datasets
    // of T1, not the editor's own one.
    assert_eq!(found(&w.normal, "notes").await, vec![w.partial_ds]);
    assert_eq!(found(&w.normal, "private").await, Vec::<Uuid>::new());
    assert_eq!(found(&w.normal, "e").await, vec![w.partial_ds, w.team_ds]);
    assert_eq!(found(&w.editor, "edi").await, vec![w.private_ds]);
    // Another group's datasets are not found.
    assert_eq!(found(&w.gsa, "beta").await, Vec::<Uuid>::new());
});

/// Datasets written straight to the database, many at a time: `(name, permission)` in
/// workspace `tenant` of group `group`, created by `creator`, `created_at` from `at`
/// (two rows share each second, so ties are broken by id).
async fn insert_datasets(
    app: &TestApp,
    tenant: Uuid,
    group: Uuid,
    creator: Uuid,
    rows: Vec<(String, &str)>,
) {
    use entity::dataset;
    let models: Vec<dataset::ActiveModel> = rows
        .into_iter()
        .enumerate()
        .map(|(n, (name, permission))| dataset::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant),
            search_name: Set(name.to_lowercase()),
            name: Set(name),
            description: Set(None),
            provider: Set("vendor".to_string()),
            permission: Set(permission.to_string()),
            data_source_type: Set(None),
            indexing_technique: Set(None),
            app_count: Set(0),
            document_count: Set(0),
            word_count: Set(0),
            created_by: Set(creator),
            created_at: Set(1_000 + n as i64 / 2),
            updated_by: Set(None),
            updated_at: Set(0),
            embedding_model: Set(None),
            embedding_model_provider: Set(None),
            retrieval_model: Set(
                console_server::domain::datasets::DEFAULT_RETRIEVAL_MODEL.to_string()
            ),
            doc_form: Set(None),
            icon: Set(None),
            icon_background: Set(None),
            group_id: Set(Some(group)),
            search_description: Set(String::new()),
        })
        .collect();
    for chunk in models.chunks(200) {
        dataset::Entity::insert_many(chunk.to_vec())
            .exec(&app.state.db)
            .await
            .expect("insert datasets");
    }
}

db_test!(async fn dataset_search_with_many_matches_counts_and_pages_exactly(app) {
    use entity::dataset;
    let w = world(&app).await;
    // More than a thousand matches: SQLite counts them in the trigram index and pages by
    // walking the group; fewer: it pages the matches themselves. Both must agree with
    // a plain substring test over every dataset of the group.
    let mut rows: Vec<(String, &str)> = (0..1_050).map(|n| (format!("Bulk Term {n}"), "all_team_members")).collect();
    rows.extend((0..30).map(|n| (format!("BULK TERM hidden {n}"), "only_me")));
    rows.extend((0..40).map(|n| (format!("unrelated {n}"), "all_team_members")));
    insert_datasets(&app, w.t1, w.g1, w.editor_id, rows).await;
    let mut all = dataset::Entity::find().filter(dataset::Column::GroupId.eq(w.g1)).all(&app.state.db).await.expect("datasets");
    all.sort_by_key(|d| std::cmp::Reverse((d.created_at, d.id)));
    let expect = |term: &str, visible: &dyn Fn(&dataset::Model) -> bool| -> Vec<Uuid> {
        let term = term.to_lowercase();
        all.iter()
            .filter(|d| visible(d) && (d.search_name.contains(&term) || d.search_description.contains(&term)))
            .map(|d| d.id)
            .collect()
    };
    let every = |_: &dataset::Model| true;
    // `normal` belongs to T1 only and is neither the creator nor listed anywhere here.
    let normal_sees = |d: &dataset::Model| d.tenant_id == w.t1 && (d.permission == "all_team_members" || d.id == w.partial_ds);
    for (client, visible, term, total) in [
        (&w.gsa, &every as &dyn Fn(&dataset::Model) -> bool, "bulk term", 1_080),
        (&w.normal, &normal_sees, "bulk term", 1_050),
        (&w.gsa, &every, "term hidden", 30),
        (&w.normal, &normal_sees, "term hidden", 0),
        (&w.gsa, &every, "term 1", 1 + 10 + 100 + 50),
        (&w.gsa, &every, "bu", 1_080),
    ] {
        let expected = expect(term, visible);
        assert_eq!(expected.len(), total, "{term}: the oracle");
        let pages = expected.len().div_ceil(100).max(1) as u32;
        let mut seen = Vec::new();
        for page in 1..=pages {
            let got = client.list_group_datasets().group_id(w.g1).search(term).page(std::num::NonZeroU32::new(page).expect("page")).limit(100).send().await.expect("page").into_inner();
            assert_eq!(got.total as usize, total, "{term}: total");
            assert_eq!(got.has_more, page < pages, "{term}: has_more of page {page}");
            seen.extend(got.data.iter().map(|d| d.id));
        }
        assert_eq!(seen, expected, "{term}: every page, in order");
    }
});

async fn insert_shadow_models(app: &TestApp, group_id: Uuid) {
    // No operation configures model providers yet: the shadow workspace's are written here.
    for (provider, config) in [
        ("openai", r#"{"api_base":"https://api.openai.com/v1"}"#),
        ("anthropic", "{}"),
    ] {
        tenant_model_provider::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(group_id),
            provider_name: Set(provider.to_string()),
            config: Set(config.to_string()),
            created_at: Set(0),
        }
        .insert(&app.state.db)
        .await
        .expect("provider");
    }
    for (model_type, provider, model) in [
        ("llm", "openai", "gpt-4o-mini"),
        ("text-embedding", "openai", "text-embedding-3-small"),
    ] {
        tenant_default_model::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(group_id),
            model_type: Set(model_type.to_string()),
            provider_name: Set(provider.to_string()),
            model_name: Set(model.to_string()),
            created_at: Set(0),
        }
        .insert(&app.state.db)
        .await
        .expect("default model");
    }
}

db_test!(async fn repairs_copy_what_workspaces_lack_and_never_overwrite(app) {
    let w = world(&app).await;
    insert_shadow_models(&app, w.g1).await;
    // T1 already chose its own llm and configured openai its own way.
    tenant_model_provider::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(w.t1),
        provider_name: Set("openai".to_string()),
        config: Set(r#"{"api_base":"https://proxy.example.com"}"#.to_string()),
        created_at: Set(0),
    }
    .insert(&app.state.db)
    .await
    .expect("own provider");
    tenant_default_model::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(w.t1),
        model_type: Set("llm".to_string()),
        provider_name: Set("anthropic".to_string()),
        model_name: Set("claude".to_string()),
        created_at: Set(0),
    }
    .insert(&app.state.db)
    .await
    .expect("own default");
    let before = w.gsa.get_workspace_model_defaults().tenant_id(w.t2).send().await.expect("t2").into_inner();
    assert!(before.model_providers.is_empty() && before.default_models.is_empty());

    // Only the current group's super_admin or system admins; gsa's current group is G1.
    for client in [&w.gadmin, &w.normal, &w.outsider] {
        assert_eq!(refused(client.repair_model_providers().send().await), forbidden());
        assert_eq!(refused(client.repair_system_default().send().await), forbidden());
    }
    assert_eq!(refused(w.sysadmin.repair_model_providers().send().await), group_not_found());
    for _ in 0..2 {
        w.gsa.repair_model_providers().send().await.expect("repair providers");
        w.gsa.repair_system_default().send().await.expect("repair defaults");
        let t1 = w.gsa.get_workspace_model_defaults().tenant_id(w.t1).send().await.expect("t1").into_inner();
        let providers: Vec<(String, serde_json::Value)> = t1.model_providers.iter().map(|p| (p.provider_name.clone(), serde_json::Value::Object(p.config.clone()))).collect();
        assert_eq!(providers, vec![
            ("anthropic".to_string(), serde_json::json!({})),
            ("openai".to_string(), serde_json::json!({"api_base": "https://proxy.example.com"})),
        ]);
        let defaults: Vec<(String, String)> = t1.default_models.iter().map(|d| (d.model_type.clone(), d.model_name.clone())).collect();
        assert_eq!(defaults, vec![("llm".to_string(), "claude".to_string()), ("text-embedding".to_string(), "text-embedding-3-small".to_string())]);
        let t2 = w.gsa.get_workspace_model_defaults().tenant_id(w.t2).send().await.expect("t2").into_inner();
        assert_eq!((t2.model_providers.len(), t2.default_models.len()), (2, 2));
    }
    let rows = tenant_model_provider::Entity::find().filter(tenant_model_provider::Column::TenantId.is_in([w.t1, w.t2])).all(&app.state.db).await.expect("rows");
    assert_eq!(rows.len(), 4, "a second repair adds nothing");
    // Other groups are untouched.
    let t3 = w.admin.get_workspace_model_defaults().tenant_id(w.t3).send().await.expect("t3").into_inner();
    assert!(t3.model_providers.is_empty());
    // Who may read a workspace's model defaults.
    w.normal.get_workspace_model_defaults().tenant_id(w.t1).send().await.expect("member");
    w.sysadmin.get_workspace_model_defaults().tenant_id(w.t1).send().await.expect("system admin");
    assert_eq!(refused(w.normal.get_workspace_model_defaults().tenant_id(w.t2).send().await), forbidden());
    assert_eq!(refused(w.beta.get_workspace_model_defaults().tenant_id(w.t1).send().await), forbidden());
    assert_eq!(refused(w.sysadmin.get_workspace_model_defaults().tenant_id(Uuid::now_v7()).send().await), (404, "tenant_not_found".to_string()));
});

db_test!(async fn group_roles_are_set_in_the_callers_current_group(app) {
    let w = world(&app).await;
    let change = |role| types::UpdateAccountExRequest {
        name: None,
        avatar: None,
        status: None,
        mobile: None,
        role_type: None,
        group_role: Some(role),
    };
    // gsa promotes normal in G1; the change shows in the members list.
    let updated = w.gsa.update_account_ex().id(w.normal_id).body(change(types::AssignableGroupRole::Admin)).send().await.expect("promote").into_inner();
    assert_eq!(updated.group_role, Some(types::GroupRole::Admin));
    assert!(w.normal.check_manage_permission().group_id(w.g1).send().await.expect("now admin").has_permission);
    // A group admin is not a group super_admin; a group super_admin changes nothing else.
    assert_eq!(refused(w.gadmin.update_account_ex().id(w.normal_id).body(change(types::AssignableGroupRole::Normal)).send().await), forbidden());
    let rename = types::UpdateAccountExRequest { name: Some("x".try_into().expect("name")), ..change(types::AssignableGroupRole::Normal) };
    assert_eq!(refused(w.gsa.update_account_ex().id(w.normal_id).body(rename).send().await), forbidden());
    // Accounts outside the caller's current group: 400.
    assert_eq!(refused(w.gsa.update_account_ex().id(w.beta_id).body(change(types::AssignableGroupRole::Admin)).send().await), (400, "invalid_param".to_string()));
    // The last super_admin of a group cannot be demoted, even by a system admin in it.
    switch(&w.admin, w.t3).await;
    let (status, code) = refused(w.admin.update_account_ex().id(w.admin_id).body(change(types::AssignableGroupRole::Normal)).send().await);
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert_eq!(refused(w.gsa.update_account_ex().id(w.gsa_id).body(change(types::AssignableGroupRole::Normal)).send().await), forbidden());
    // The system admin sets a role in its current group (G2).
    w.admin.update_account_ex().id(w.beta_id).body(change(types::AssignableGroupRole::Admin)).send().await.expect("admin in G2");
    assert_eq!(w.beta.get_current_group().send().await.expect("current").group_role, types::GroupRole::Admin);
    assert_eq!(w.normal.get_current_group().send().await.expect("unchanged").group_role, types::GroupRole::Admin);
});

db_test!(async fn workspaces_are_listed_and_switched(app) {
    let w = world(&app).await;
    let mine = w.gsa.list_workspaces().send().await.expect("ws").into_inner().workspaces;
    // gsa switched to G1's shadow in the fixture.
    assert_eq!(mine.iter().map(|x| (x.id, x.current)).collect::<Vec<_>>(), vec![(w.t2, false), (w.t1, false), (w.g1, true)]);
    let switched = w.gsa.switch_workspace().body(types::SwitchWorkspaceRequest { tenant_id: w.t1 }).send().await.expect("switch").into_inner();
    assert_eq!((switched.result.as_str(), switched.new_tenant.id, switched.new_tenant.current), ("success", w.t1, true));
    let mine = w.gsa.list_workspaces().send().await.expect("ws").into_inner().workspaces;
    assert_eq!(mine.iter().filter(|x| x.current).map(|x| x.id).collect::<Vec<_>>(), vec![w.t1]);
    assert_eq!(refused(w.normal.switch_workspace().body(types::SwitchWorkspaceRequest { tenant_id: w.t2 }).send().await), forbidden());
    assert_eq!(refused(w.normal.switch_workspace().body(types::SwitchWorkspaceRequest { tenant_id: Uuid::now_v7() }).send().await), (404, "tenant_not_found".to_string()));
    // Switching into another group's workspace changes the current group too.
    switch(&w.admin, w.t3).await;
    assert_eq!(w.admin.get_current_group().send().await.expect("current").id, w.g2);
    assert_eq!(w.outsider.list_workspaces().send().await.expect("none").workspaces.len(), 0);
});

// The account views show the role in the current group and are cached: switching the
// current workspace to another group's must show the other role at once.
db_test!(async fn switching_groups_shows_the_new_group_role_at_once(app) {
    setup(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let home = admin
        .list_workspaces()
        .send()
        .await
        .expect("workspaces")
        .into_inner()
        .workspaces
        .iter()
        .find(|w| w.current)
        .expect("current")
        .id;
    admin
        .create_enterprise_group()
        .body(types::CreateEnterpriseGroupRequest { name: "Beta".try_into().expect("name"), short_name: None })
        .send()
        .await
        .expect("create group");
    let beta = admin
        .list_my_joined_groups()
        .send()
        .await
        .expect("joined")
        .into_inner()
        .data
        .iter()
        .find(|g| g.name == "Beta")
        .expect("Beta")
        .id;
    admin
        .create_group_tenant()
        .group_id(beta)
        .body(types::CreateGroupTenantRequest { name: "T3".try_into().expect("name") })
        .send()
        .await
        .expect("create workspace");
    let t3 = tenant_named(&admin, beta, "T3").await;
    let bob_id = register(&admin, "bob@example.com", "bob").await;
    switch(&admin, t3).await;
    invite(&admin, "bob@example.com", types::InvitableRole::Normal).await;
    switch(&admin, home).await;
    invite(&admin, "bob@example.com", types::InvitableRole::Normal).await;
    // In the default group (the administrator's current one) bob becomes a group admin.
    admin
        .update_account_ex()
        .id(bob_id)
        .body(types::UpdateAccountExRequest {
            name: None,
            avatar: None,
            status: None,
            mobile: None,
            role_type: None,
            group_role: Some(types::AssignableGroupRole::Admin),
        })
        .send()
        .await
        .expect("make bob a group admin");
    let bob = user(&app, "bob").await;
    switch(&bob, t3).await;
    let role = |p: types::AccountEx| p.group_role;
    assert_eq!(role(bob.get_account_ex_profile().send().await.expect("profile").into_inner()), Some(types::GroupRole::Normal));
    switch(&bob, home).await;
    assert_eq!(role(bob.get_account_ex_profile().send().await.expect("profile").into_inner()), Some(types::GroupRole::Admin));
});

db_test!(async fn concurrent_group_creations_all_succeed(app) {
    // Each creation reads (is the name taken?) before it writes. On SQLite a deferred
    // transaction that does so cannot wait for the write lock: when another creation
    // committed in between, the write was refused at once (SQLITE_BUSY, a 503), which
    // `cargo xtask chaos --only crash` found under load. Write transactions now take the
    // lock up front (`db::begin_write`).
    setup(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let creations = (0..16).map(|i| {
        let admin = admin.clone();
        async move {
            admin
                .create_enterprise_group()
                .body(types::CreateEnterpriseGroupRequest {
                    name: format!("Concurrent {i}").try_into().expect("name"),
                    short_name: None,
                })
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        }
    });
    let failed: Vec<String> = futures::future::join_all(creations)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(failed.is_empty(), "{} of 16 failed: {failed:?}", failed.len());
    let total = admin.list_enterprise_groups().send().await.expect("list").into_inner().total;
    assert_eq!(total, 17, "the default group and the 16");
});

db_test!(async fn concurrent_creations_of_one_name_make_one_group(app) {
    // The name check and the insert are two statements: on PostgreSQL two creations of
    // one name could both pass the check before either inserted. A partial unique index
    // on the active groups' names makes the second insert fail, answered as the conflict
    // the check would have given.
    setup(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let creations = (0..16).map(|_| {
        let admin = admin.clone();
        async move {
            match admin
                .create_enterprise_group()
                .body(types::CreateEnterpriseGroupRequest {
                    name: "Same name".try_into().expect("name"),
                    short_name: None,
                })
                .send()
                .await
            {
                Ok(_) => Ok(true),
                Err(e) if e.status().map(|s| s.as_u16()) == Some(409) => Ok(false),
                Err(e) => Err(format!("{e:?}")),
            }
        }
    });
    let results = futures::future::join_all(creations).await;
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(errors.is_empty(), "answers other than 200 or 409: {errors:?}");
    let made = results.iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(made, 1, "{made} groups named alike were made");
    let total = admin.list_enterprise_groups().send().await.expect("list").into_inner().total;
    assert_eq!(total, 2, "the default group and one more");
});
