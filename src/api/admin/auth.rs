//! The `Auth` tag of the admin surface.

use super::{AdminError, AdminHandlers};
use crate::api::generated::admin::{AuthApi, Operation, responses, schemas};

impl AuthApi for AdminHandlers {
    async fn login(
        &self,
        _ctx: Self::Context,
        _body: schemas::LoginRequest,
    ) -> poem::Result<responses::LoginResponse> {
        Err(AdminError::not_implemented(Operation::Login.operation_id()).into())
    }
}
