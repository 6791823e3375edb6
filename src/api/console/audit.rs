//! The `Audit` tag of the console surface: reading the audit trail.

use poem_openapi::payload::Json;

use super::{ConsoleError, ConsoleHandlers, views};
use crate::api::generated::console::{AuditApi, responses, schemas};
use crate::domain::audit_events::{self, AuditQueryError, Filter};
use crate::domain::groups;
use crate::domain::policy::{self, AuditView};

impl From<AuditQueryError> for ConsoleError {
    fn from(err: AuditQueryError) -> Self {
        match err {
            AuditQueryError::BadCursor => Self::invalid_param(err.to_string()),
            AuditQueryError::Db(err) => err.into(),
        }
    }
}

impl AuditApi for ConsoleHandlers {
    async fn list_audit_events(
        &self,
        _ctx: Self::Context,
        principal: Self::Principal,
        actor: Option<String>,
        target_kind: Option<String>,
        target_id: Option<String>,
        operation_id: Option<String>,
        outcome: Option<String>,
        since: Option<i64>,
        until: Option<i64>,
        cursor: Option<String>,
        limit: i32,
    ) -> poem::Result<responses::ListAuditEventsResponse> {
        let db = &self.state.db;
        let super_admin_of = if principal.is_system_admin() {
            Vec::new()
        } else {
            groups::super_admin_groups(db, principal.account.id)
                .await
                .map_err(ConsoleError::from)?
        };
        let groups = match policy::audit_view(principal.system_role(), super_admin_of) {
            AuditView::All => None,
            AuditView::Groups(ids) => Some(ids),
        };
        let filter = Filter {
            surface: Some("console"),
            actor,
            target_kind,
            target_id,
            operation_id,
            outcome,
            since,
            until,
            groups,
        };
        let limit = u64::try_from(limit.clamp(1, 100)).unwrap_or(20);
        let page = audit_events::page(db, &filter, cursor.as_deref(), limit).await?;
        Ok(responses::ListAuditEventsResponse::Ok(Json(
            schemas::AuditEventPage {
                data: page
                    .events
                    .iter()
                    .map(|e| views::wire(audit_events::to_json(e)))
                    .collect::<Result<_, _>>()?,
                next_cursor: page.next_cursor,
            },
        )))
    }
}
