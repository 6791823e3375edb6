//! Turns every error an API surface's endpoint returns — the surface's own errors and the
//! framework's (bad JSON, wrong types, missing fields, missing credentials, unknown paths,
//! oversize bodies) — into that surface's wire envelope, never poem's plain text.

use poem::error::{MethodNotAllowedError, NotFoundError, ParsePathError, ReadBodyError};
use poem::http::StatusCode;

use std::sync::Arc;

use crate::api::body_guard::InvalidBody;
use crate::api::spec_paths::AllowedMethods;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseMultipartError, ParseParamError,
    ParseRequestPayloadError,
};

/// A framework error, classified: the status, a Dify-style code and a message for clients.
#[derive(Debug, PartialEq)]
pub struct Failure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// Classifies an error that is not one of the surface's own.
pub fn classify(err: &poem::Error) -> Failure {
    let (status, code, message) = if let Some(e) = err.downcast_ref::<InvalidBody>() {
        (StatusCode::BAD_REQUEST, "invalid_param", e.to_string())
    } else if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        (
            StatusCode::BAD_REQUEST,
            "invalid_param",
            format!("Invalid request body: {}", e.reason),
        )
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        (
            StatusCode::BAD_REQUEST,
            "invalid_param",
            format!("Invalid parameter `{}`: {}", e.name, e.reason),
        )
    } else if err.is::<ParseMultipartError>() || err.is::<ParsePathError>() {
        (StatusCode::BAD_REQUEST, "invalid_param", err.to_string())
    } else if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        let message = match e {
            ContentTypeError::ExpectContentType => {
                "The request body must be JSON (Content-Type: application/json).".to_string()
            }
            ContentTypeError::NotSupported { content_type } => {
                format!("Content-Type {content_type} is not supported; send application/json.")
            }
        };
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    } else if err.is::<AuthorizationError>() {
        (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized.".to_string(),
        )
    } else if err.is::<NotFoundError>() {
        (
            StatusCode::NOT_FOUND,
            "not_found",
            "The requested URL was not found on the server.".to_string(),
        )
    } else if err.is::<MethodNotAllowedError>() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "The method is not allowed for the requested URL.".to_string(),
        )
    } else if matches!(
        err.downcast_ref::<ReadBodyError>(),
        Some(ReadBodyError::PayloadTooLarge)
    ) || err.status() == StatusCode::PAYLOAD_TOO_LARGE
    {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is larger than 1 MiB.".to_string(),
        )
    } else if err.status().is_server_error() {
        // Never echo an unexpected error's text: it may hold SQL or paths.
        tracing::error!(error = %err, "unexpected failure");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "Internal Server Error".to_string(),
        )
    } else {
        let status = err.status();
        let code = match status {
            StatusCode::BAD_REQUEST => "invalid_param",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
            _ => "bad_request",
        };
        (status, code, err.to_string())
    };
    Failure {
        status,
        code,
        message,
    }
}

/// The middleware: `render` builds the surface's envelope for one error; `allow` names the
/// methods of each of the surface's paths, for the `Allow` header of a 405.
pub struct ErrorEnvelope {
    pub render: fn(poem::Error) -> Response,
    pub allow: Arc<AllowedMethods>,
}

impl ErrorEnvelope {
    /// For routes outside the API surfaces, which answer 405 on no path.
    pub fn without_paths(render: fn(poem::Error) -> Response) -> Self {
        Self {
            render,
            allow: Arc::new(AllowedMethods::empty()),
        }
    }
}

impl<E: Endpoint> Middleware<E> for ErrorEnvelope {
    type Output = ErrorEnvelopeEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ErrorEnvelopeEndpoint {
            inner,
            render: self.render,
            allow: self.allow.clone(),
        }
    }
}

pub struct ErrorEnvelopeEndpoint<E> {
    inner: E,
    render: fn(poem::Error) -> Response,
    allow: Arc<AllowedMethods>,
}

impl<E: Endpoint> Endpoint for ErrorEnvelopeEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        // The `Allow` value is looked up only for a 405: finding it walks every path
        // template of the surface, which was most of a cached read's time when done for
        // every request. The URI is kept for it (a reference-counted clone).
        let uri = (!self.allow.is_empty()).then(|| req.uri().clone());
        match self.inner.call(req).await {
            Ok(resp) => Ok(resp.into_response()),
            Err(err) => {
                let mut resp = (self.render)(err);
                if resp.status() == StatusCode::METHOD_NOT_ALLOWED
                    && let Some(allow) = uri
                        .as_ref()
                        .and_then(|uri| self.allow.for_path(uri.path()))
                        .cloned()
                {
                    // RFC 9110 §15.5.6: a 405 names the methods the resource does answer.
                    resp.headers_mut().insert(poem::http::header::ALLOW, allow);
                }
                if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    // The rest of the body was never read, so this connection cannot carry
                    // another request; say so, or a client may reuse it and fail.
                    resp.headers_mut().insert(
                        poem::http::header::CONNECTION,
                        poem::http::HeaderValue::from_static("close"),
                    );
                }
                Ok(resp)
            }
        }
    }
}
