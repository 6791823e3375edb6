//! The authorization table, walked: every console operation, called with well-formed
//! inputs from the spec's examples, by every kind of caller, gets what docs/authz.md says
//! its rule is. Expectations come from the document, so a change to enforcement that the
//! table does not also state fails here.

use console_server::api::console::authz::Rule;
use console_server::api::generated::console::Operation;
use console_server::app::CONSOLE_SPEC;
use console_server::auth::tokens::{self, AccessClaims};
use console_server::domain::session as session_domain;
use entity::account;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use console_server::domain::account_writes::AccountWrite;
use console_server::domain::groups;

use crate::db_test;
use crate::routing::{
    call_for, calls_with, documented_console_rule, documented_token_refusals, send,
};
use crate::session::{ADMIN_EMAIL, ADMIN_PASSWORD, login, setup};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    Normal,
    SystemAdmin,
    SuperAdmin,
    Banned,
    Expired,
    ForeignKey,
    /// An admin (group role) of another group than the one the walk names, with that
    /// group current: a role in one group must never count in another.
    OtherGroupAdmin,
    /// A sign-in whose refresh token was replayed: reuse ends every session of the
    /// account, so its access token is dead at once.
    RevokedFamily,
    /// Personal access tokens of the super_admin: what it gets, narrowed by the scope.
    ReadToken,
    WriteToken,
}

/// What a personal access token of the super_admin is owed (docs/authz.md, "Personal
/// access tokens"): 403 `forbidden` where its scope stops it, else the super_admin's answer.
fn judge_token(
    rule: Rule,
    op: Operation,
    caller: Caller,
    status: u16,
    body: &Value,
) -> Result<(), String> {
    let never = documented_token_refusals()
        .iter()
        .any(|id| id == op.operation_id());
    let stopped = never || (caller == Caller::ReadToken && op.method() != "GET");
    if op.requires_credential() && rule != Rule::NotBuilt && stopped {
        if status == 403 && body["code"] == "forbidden" {
            Ok(())
        } else {
            Err("expected 403 forbidden (beyond the token's scope)".to_string())
        }
    } else {
        judge(
            rule,
            op.requires_credential(),
            Caller::SuperAdmin,
            status,
            body,
        )
    }
}

/// What a caller may get from an operation under its rule: `Ok(())` when the answer is
/// allowed, else what was wrong.
fn judge(
    rule: Rule,
    needs_credential: bool,
    caller: Caller,
    status: u16,
    body: &Value,
) -> Result<(), String> {
    let code = body["code"].as_str().unwrap_or("");
    let denied = status == 401 && code == "unauthorized";
    let refused = status == 403 && code == "forbidden";
    let expect = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    };
    let signed_in = matches!(
        caller,
        Caller::Normal | Caller::SystemAdmin | Caller::SuperAdmin | Caller::OtherGroupAdmin
    );
    // Outside the named group, with no workspace and no system role, another group's
    // admin is owed what a plain account is — except that the plain account is the one
    // the walk names, and it is not.
    if caller == Caller::OtherGroupAdmin && rule == Rule::AccountOrItsGroupAdmin {
        return expect(status == 403 && code == "forbidden", "403 forbidden");
    }
    let caller = match caller {
        Caller::OtherGroupAdmin => Caller::Normal,
        other => other,
    };
    let succeeds = !denied && !refused && status != 501 && status < 500;
    let hidden = status == 404 && code == "group_not_found";
    match (rule, caller) {
        (Rule::NotBuilt, Caller::Anonymous) if needs_credential => {
            expect(status == 401, "401 without a credential")
        }
        (Rule::NotBuilt, _) => expect(status == 501 && code == "not_implemented", "501"),
        (Rule::BeforeSetup | Rule::Public, _) => expect(
            !denied && !refused && status != 501,
            "no authorization refusal",
        ),
        (_, _) if !signed_in => expect(status == 401, "401"),
        // The walk names the Default Group (the super_admin is its super_admin), the
        // normal account as `{account_id}` and the super_admin's workspace as
        // `{tenant_id}`. Among these callers only the super_admin has a workspace or a
        // group; the normal account is the account named.
        (Rule::GroupMember, Caller::Normal) => expect(hidden, "404 group_not_found"),
        (Rule::SystemAdmin, Caller::Normal)
        | (
            Rule::SuperAdmin | Rule::WorkspaceAdmin | Rule::DatasetEditor | Rule::GroupAdmin,
            Caller::Normal | Caller::SystemAdmin,
        )
        | (
            Rule::GroupAdminOrSystemAdmin
            | Rule::GroupSuperAdmin
            | Rule::WorkspaceMember
            | Rule::AuditReader,
            Caller::Normal,
        )
        | (Rule::GroupAdminOrSelf, Caller::SystemAdmin) => expect(refused, "403 forbidden"),
        // The normal account names itself, but is not in the Default Group: "self" means
        // one's own place in that group, so an outsider is refused (issue 15, item 5).
        (Rule::GroupAdminOrSelf, Caller::Normal) => expect(refused, "403 forbidden"),
        // The walk names groups, accounts and workspaces that exist.
        (r, _) if r.is_scoped() => {
            expect(succeeds && !hidden, "success or a non-authorization error")
        }
        _ => expect(succeeds, "success or a non-authorization error"),
    }
}

/// Operations that change an account named by `?id=`: on a super_admin, super admins only
/// (docs/authz.md, below the rules).
const EDITS_OF_AN_ACCOUNT: &[&str] = &["update_account_ex", "update_account_role"];

#[test]
fn every_scoped_rule_has_its_scope_in_the_spec_and_no_other_does() {
    use console_server::api::console::authz;
    let wrong: Vec<_> = Operation::ALL
        .iter()
        .filter(|op| !authz::scope_matches(**op))
        .map(|op| {
            format!(
                "{} ({:?}, x-authz-scope {:?})",
                op.operation_id(),
                authz::rule(*op),
                op.authz_scope()
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "x-authz-scope disagrees with the rule: {wrong:?}"
    );
}

// Registration and e-mail-code sign-in are on so their operations are walked past their
// switches.
db_test!(async fn every_operation_answers_every_caller_by_its_rule(app) using |state| {
    console_server::state::AppState {
        features: console_server::config::FeatureConfig {
            allow_register: true,
            enable_email_code_login: true,
            ..console_server::config::FeatureConfig::defaults()
        },
        ..state
    }
}; {
    setup(&app).await;
    let admin = login(&app.console, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("admin").access_token;
    let admin_client = app.console_as(&admin);
    for (email, password) in [
        ("normal@example.com", "normalpw1"),
        ("banned@example.com", "bannedpw1"),
        ("sysadmin@example.com", "sysadmin1"),
    ] {
        admin_client
            .register_account()
            .body(console_client::console::types::RegisterAccountRequest {
                email: email.try_into().expect("email"),
                name: "Someone".try_into().expect("name"),
                password: password.try_into().expect("password"),
            })
            .send()
            .await
            .expect("register");
    }
    let normal = login(&app.console, "normal@example.com", "normalpw1").await.expect("normal").access_token;
    let sysadmin_id = account::Entity::find()
        .filter(account::Column::Email.eq("sysadmin@example.com"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("account")
        .id;
    admin_client
        .update_account_role()
        .id(sysadmin_id)
        .body(console_client::console::types::UpdateAccountRoleRequest {
            role_type: console_client::console::types::AssignableRoleType::SystemAdmin,
        })
        .send()
        .await
        .expect("promote to system_admin");
    let sysadmin = login(&app.console, "sysadmin@example.com", "sysadmin1").await.expect("sysadmin").access_token;
    let banned = login(&app.console, "banned@example.com", "bannedpw1").await.expect("banned").access_token;
    let banned_account = account::Entity::find()
        .filter(account::Column::Email.eq("banned@example.com"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("account");
    session_domain::end_all_sessions(&app.state.db, &app.state.accounts, app.state.clock.now(), banned_account.id).await.expect("end sessions");
    let mut ban: account::ActiveModel = banned_account.clone().into();
    ban.status = Set(entity::roles::AccountStatus::Banned);
    ban.update(&app.state.db).await.expect("ban");

    // Another group, whose admin is a plain account in nobody else's group.
    admin_client
        .register_account()
        .body(console_client::console::types::RegisterAccountRequest {
            email: "other@example.com".try_into().expect("email"),
            name: "Other".try_into().expect("name"),
            password: "otherpw12".try_into().expect("password"),
        })
        .send()
        .await
        .expect("register");
    let other_id = account::Entity::find()
        .filter(account::Column::Email.eq("other@example.com"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("account")
        .id;
    let admin_id = tokens::verify_access(&app.state.secret, &admin, app.state.clock.now()).expect("admin claims").user_id;
    let other_group = groups::create(&app.state.db, &app.state.accounts, app.state.clock.now(), admin_id, "Other Group", None).await.expect("other group");
    let mut write = AccountWrite::begin(&app.state.db, &app.state.accounts).await.expect("begin");
    write.join_group(other_group.id, other_id, entity::roles::GroupRole::Admin, app.state.clock.now()).await.expect("join");
    write.commit().await.expect("commit");
    let other = login(&app.console, "other@example.com", "otherpw12").await.expect("other").access_token;

    // A sign-in whose used refresh token is presented again.
    admin_client
        .register_account()
        .body(console_client::console::types::RegisterAccountRequest {
            email: "replayed@example.com".try_into().expect("email"),
            name: "Replayed".try_into().expect("name"),
            password: "replayed1".try_into().expect("password"),
        })
        .send()
        .await
        .expect("register");
    let first = login(&app.console, "replayed@example.com", "replayed1").await.expect("replayed");
    let refresh = |token: String| {
        let client = app.console.clone();
        async move {
            client
                .refresh_token()
                .body(console_client::console::types::RefreshTokenRequest { refresh_token: token.try_into().expect("token") })
                .send()
                .await
        }
    };
    let second = refresh(first.refresh_token.clone()).await.expect("rotate").into_inner().data;
    refresh(first.refresh_token.clone()).await.expect_err("reuse is refused");
    let revoked = second.access_token;

    let now = app.state.clock.now();
    let claims = |exp: i64| AccessClaims {
        user_id: banned_account.id,
        exp,
        iat: exp - 60,
        iss: tokens::ISSUER.into(),
        sub: tokens::SUBJECT.into(),
        ver: 0,
        fam: uuid::Uuid::now_v7(),
    };
    // Genuine signature, but expired; and unexpired, but signed with another key.
    let normal_id = tokens::verify_access(&app.state.secret, &normal, now).expect("normal claims").user_id;
    let expired = tokens::issue_access(&app.state.secret, &AccessClaims { user_id: normal_id, ..claims(now - 1) }).expect("sign");
    let foreign = tokens::issue_access(b"not-this-servers-secret-not-this", &AccessClaims { user_id: normal_id, ..claims(now + 600) })
        .expect("sign");

    let doc: Value = serde_yaml::from_str(CONSOLE_SPEC).expect("yaml");
    let (workspace, _) = console_server::domain::workspaces::current(&app.state.db, admin_id)
        .await
        .expect("query")
        .expect("the super_admin's workspace");
    let group_id = workspace.group_id.expect("setup puts the workspace in Default Group");
    let mut calls = calls_with(
        &app,
        &doc,
        &[
            ("group_id", group_id.to_string()),
            ("account_id", normal_id.to_string()),
            ("tenant_id", workspace.id.to_string()),
        ],
    );
    // The group to update travels in the body.
    for call in calls.iter_mut().filter(|c| c.operation_id == "update_enterprise_group") {
        if let Some(body) = call.body.as_mut() {
            body["id"] = Value::String(group_id.to_string());
        }
    }
    let mint = |scope: console_client::console::types::AccessTokenScope| {
        let client = admin_client.clone();
        async move {
            client
                .create_access_token()
                .body(console_client::console::types::CreateAccessTokenRequest {
                    name: "walk".try_into().expect("name"),
                    scope,
                    expires_in_days: Some(std::num::NonZeroU32::new(1).expect("1")),
                })
                .send()
                .await
                .expect("mint a personal access token")
                .into_inner()
                .token
        }
    };
    use console_client::console::types::AccessTokenScope;
    let (mut read_token, mut write_token) = (mint(AccessTokenScope::Read).await, mint(AccessTokenScope::Write).await);
    let mut failures = Vec::new();
    let mut pending = 0;
    for op in Operation::ALL {
        // The expectation comes from the documented table, not from the code under test.
        let rule = documented_console_rule(op.operation_id())
            .unwrap_or_else(|| panic!("docs/authz.md has no rule for {}", op.operation_id()));
        if rule == Rule::NotBuilt {
            pending += 1;
        }
        // `logout` ends the refresh family of the token it is called with; access tokens
        // outlive their family by design, so the walk can go on with the same tokens.
        for caller in [
            Caller::Anonymous,
            Caller::Normal,
            Caller::SystemAdmin,
            // Before the super_admin, whose own calls may revoke them.
            Caller::ReadToken,
            Caller::WriteToken,
            Caller::SuperAdmin,
            Caller::Banned,
            Caller::Expired,
            Caller::ForeignKey,
            Caller::OtherGroupAdmin,
            Caller::RevokedFamily,
        ] {
            let token = match caller {
                Caller::Anonymous => None,
                Caller::Normal => Some(normal.as_str()),
                Caller::SystemAdmin => Some(sysadmin.as_str()),
                Caller::SuperAdmin => Some(admin.as_str()),
                Caller::Banned => Some(banned.as_str()),
                Caller::Expired => Some(expired.as_str()),
                Caller::ForeignKey => Some(foreign.as_str()),
                Caller::OtherGroupAdmin => Some(other.as_str()),
                Caller::RevokedFamily => Some(revoked.as_str()),
                Caller::ReadToken => Some(read_token.as_str()),
                Caller::WriteToken => Some(write_token.as_str()),
            };
            let header = token.map(|t| format!("Bearer {t}"));
            let (status, body) = send(call_for(&calls, op.operation_id()), header.as_deref().map(|h| ("authorization", h))).await;
            let verdict = match caller {
                Caller::ReadToken | Caller::WriteToken => judge_token(rule, *op, caller, status, &body),
                _ => judge(rule, op.requires_credential(), caller, status, &body),
            };
            if let Err(why) = verdict {
                failures.push(format!("{} as {caller:?} ({rule:?}): {why}, got {status} {body}", op.operation_id()));
            }
        }
        // The super_admin's own calls may have revoked the walk's tokens.
        if op.operation_id().starts_with("revoke_") {
            read_token = mint(AccessTokenScope::Read).await;
            write_token = mint(AccessTokenScope::Write).await;
        }
    }

    // A system_admin acting on the super_admin: the calls now name the super_admin as the
    // account (`{account_id}`, `?id=`). Reads stay open to system admins; no edit is.
    let mut on_super = calls_with(
        &app,
        &doc,
        &[
            ("group_id", group_id.to_string()),
            ("account_id", admin_id.to_string()),
            ("id", admin_id.to_string()),
            ("tenant_id", workspace.id.to_string()),
        ],
    );
    for call in on_super.iter_mut().filter(|c| c.operation_id == "update_enterprise_group") {
        if let Some(body) = call.body.as_mut() {
            body["id"] = Value::String(group_id.to_string());
        }
    }
    let sysadmin_header = format!("Bearer {sysadmin}");
    for op in Operation::ALL {
        let rule = documented_console_rule(op.operation_id()).expect("documented");
        let (status, body) = send(call_for(&on_super, op.operation_id()), Some(("authorization", sysadmin_header.as_str()))).await;
        let verdict = if EDITS_OF_AN_ACCOUNT.contains(&op.operation_id()) {
            let refused = status == 403 && body["code"] == "forbidden";
            if refused { Ok(()) } else { Err("expected 403 forbidden".to_string()) }
        } else {
            judge(rule, op.requires_credential(), Caller::SystemAdmin, status, &body)
        };
        if let Err(why) = verdict {
            failures.push(format!("{} as system_admin on the super_admin ({rule:?}): {why}, got {status} {body}", op.operation_id()));
        }
    }
    assert!(failures.is_empty(), "{} authorization failures:\n{}", failures.len(), failures.join("\n"));
    let pending_groups: Vec<_> = Operation::ALL
        .iter()
        .filter(|op| op.tag() == console_server::api::generated::console::Tag::EnterpriseGroup)
        .filter(|op| documented_console_rule(op.operation_id()) == Some(Rule::NotBuilt))
        .map(|op| op.operation_id())
        .collect();
    assert!(pending_groups.is_empty(), "EnterpriseGroup operations still not built: {pending_groups:?}");
    eprintln!("authz walk: {} operations, {pending} still pending (not built)", Operation::ALL.len());
});
