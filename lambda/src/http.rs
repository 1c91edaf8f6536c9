//! The API under `lambda_http`: the same [`orderflow_api::app`] router, behind a small adapter of
//! what API Gateway's HTTP API (payload 2.0) hands over.
//!
//! - The JWT authorizer's verified claims and scopes become a [`GatewayClaims`] request
//!   extension, which [`orderflow_api::AuthMode::JwtClaims`] reads: the API knows nothing of
//!   Lambda.
//! - A named stage's prefix (`/prod/api/v0/orders`) is taken off the path, so routes match under
//!   any stage. (`lambda_http` puts the stage in front of the path unless the path already starts
//!   with it, and `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` only stops the adding: an HTTP API's
//!   `rawPath` carries the stage itself, so the prefix has to be taken off here.) Do not name a
//!   stage after the API's first path segment (`api`).

use axum::Router;
use http::Uri;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use orderflow_api::GatewayClaims;
use tower::ServiceBuilder;
use tower::util::MapRequest;

/// The API's router as the service `lambda_http::run` runs.
pub fn handler(app: Router) -> MapRequest<Router, fn(Request) -> Request> {
    ServiceBuilder::new().map_request(from_gateway as fn(Request) -> Request).service(app)
}

/// `request` as the API expects it: claims as an extension, the stage off the path.
pub fn from_gateway(mut request: Request) -> Request {
    let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref().cloned() else {
        return request;
    };
    if let Some(claims) = claims(&context) {
        request.extensions_mut().insert(claims);
    }
    if let Some(uri) = context.stage.as_deref().and_then(|stage| without_stage(request.uri(), stage)) {
        *request.uri_mut() = uri;
    }
    request
}

fn claims(context: &ApiGatewayV2httpRequestContext) -> Option<GatewayClaims> {
    let jwt = context.authorizer.as_ref()?.jwt.as_ref()?;
    Some(GatewayClaims { claims: jwt.claims.clone(), scopes: jwt.scopes.clone().unwrap_or_default() })
}

/// `uri` without the `/{stage}` its path starts with; `None` when there is none to take off.
fn without_stage(uri: &Uri, stage: &str) -> Option<Uri> {
    if stage == "$default" {
        return None;
    }
    let rest = uri.path().strip_prefix('/')?.strip_prefix(stage)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().unwrap()
    }

    #[test]
    fn a_stage_prefix_is_taken_off_the_path_keeping_the_query() {
        assert_eq!(
            without_stage(&uri("https://h.example/prod/api/v0/orders?limit=2"), "prod"),
            Some(uri("https://h.example/api/v0/orders?limit=2"))
        );
        assert_eq!(without_stage(&uri("/prod"), "prod"), Some(uri("/")));
    }

    #[test]
    fn a_path_that_only_looks_like_the_stage_is_left_alone() {
        assert_eq!(without_stage(&uri("/production/x"), "prod"), None);
        assert_eq!(without_stage(&uri("/api/v0/orders"), "$default"), None);
        assert_eq!(without_stage(&uri("/api/v0/orders"), "prod"), None);
    }
}
