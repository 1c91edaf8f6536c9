//! Who is calling, and how the API learns it: the one place authentication plugs in.

use std::collections::HashMap;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use orderflow_domain::customer::CustomerId;

use crate::AppState;
use crate::problem::{ApiError, InvalidParam};

/// Who is calling.
///
/// This is the one place authentication plugs in. Locally (`AuthMode::None`) there is none, and
/// every caller may act for any customer, like an operator. Behind a gateway that authenticates
/// customers (`AuthMode::GatewayHeader`), the gateway passes the customer id in a header and the
/// caller may act only for that customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Operator,
    Customer(CustomerId),
}

/// How the API learns who is calling: the `AUTH_MODE` setting, `none` or
/// `gateway-header:<header name>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication: every caller is an operator. For local use only.
    #[default]
    None,
    /// A trusted gateway in front of the API authenticated the customer and names them in this
    /// header. Never expose the API directly in this mode.
    GatewayHeader(http::HeaderName),
    /// Behind API Gateway's JWT authorizer (the Lambda host): the gateway verified the token, and
    /// the host hands its claims over as a [`GatewayClaims`] request extension. The customer is
    /// the value of `customer_claim`; a caller granted `operator_scope` (among the token's scopes,
    /// or in its `scope` claim) is an operator. A request without claims is `401`.
    JwtClaims { customer_claim: String, operator_scope: String },
}

/// The claims of the JWT that API Gateway's authorizer verified, put on the request by the host
/// that received them (the Lambda host reads them from the request context). The API reads them
/// in [`AuthMode::JwtClaims`] and never sees the token itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayClaims {
    /// Each claim, as API Gateway passes them: strings.
    pub claims: HashMap<String, String>,
    /// The token's scopes, when the authorizer lists them.
    pub scopes: Vec<String>,
}

impl GatewayClaims {
    /// Whether the token grants `scope`: listed by the authorizer, or in the space-separated
    /// `scope` claim of an OAuth access token.
    pub fn grants(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
            || self
                .claims
                .get("scope")
                .is_some_and(|claim| claim.split_ascii_whitespace().any(|granted| granted == scope))
    }
}

impl Caller {
    /// Whether this caller may see and act on `customer`'s orders.
    pub fn may_act_for(&self, customer: &CustomerId) -> bool {
        match self {
            Self::Operator => true,
            Self::Customer(id) => id == customer,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match &state.auth {
            AuthMode::None => Ok(Self::Operator),
            AuthMode::GatewayHeader(name) => {
                let raw = parts.headers.get(name).and_then(|v| v.to_str().ok()).ok_or_else(|| {
                    ApiError::InvalidParameters(vec![InvalidParam::header(name.as_str(), "is required")])
                })?;
                CustomerId::parse(raw)
                    .map(Self::Customer)
                    .map_err(|e| ApiError::InvalidParameters(vec![InvalidParam::header(name.as_str(), e.reason())]))
            }
            AuthMode::JwtClaims { customer_claim, operator_scope } => {
                let claims = parts
                    .extensions
                    .get::<GatewayClaims>()
                    .ok_or_else(|| ApiError::Unauthorized("the request carries no verified token".to_owned()))?;
                if claims.grants(operator_scope) {
                    return Ok(Self::Operator);
                }
                let raw = claims.claims.get(customer_claim).ok_or_else(|| {
                    ApiError::Unauthorized(format!("the token has no `{customer_claim}` claim naming a customer"))
                })?;
                CustomerId::parse(raw).map(Self::Customer).map_err(|e| {
                    ApiError::Unauthorized(format!(
                        "the token's `{customer_claim}` claim is no customer id: {}",
                        e.reason()
                    ))
                })
            }
        }
    }
}

impl FromStr for AuthMode {
    type Err = String;

    fn from_str(mode: &str) -> Result<Self, Self::Err> {
        if mode == "none" {
            return Ok(Self::None);
        }
        let Some(name) = mode.strip_prefix("gateway-header:") else {
            return Err(format!("`{mode}` is neither `none` nor `gateway-header:<header name>`"));
        };
        http::HeaderName::from_bytes(name.as_bytes())
            .map(Self::GatewayHeader)
            .map_err(|_| format!("`{name}` is not a header name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_may_act_for_anyone_and_a_customer_only_for_themselves() {
        let ada = CustomerId::parse("ada").unwrap();
        let bob = CustomerId::parse("bob").unwrap();
        assert!(Caller::Operator.may_act_for(&ada));
        assert!(Caller::Customer(ada.clone()).may_act_for(&ada));
        assert!(!Caller::Customer(ada).may_act_for(&bob));
    }

    #[test]
    fn the_auth_mode_setting_is_none_or_a_gateway_header() {
        assert_eq!("none".parse::<AuthMode>(), Ok(AuthMode::None));
        assert_eq!(
            "gateway-header:x-customer-id".parse::<AuthMode>(),
            Ok(AuthMode::GatewayHeader(http::HeaderName::from_static("x-customer-id")))
        );
        assert!("gateway-header:bad header".parse::<AuthMode>().unwrap_err().contains("not a header name"));
        assert!("basic".parse::<AuthMode>().is_err());
    }

    #[test]
    fn a_token_grants_a_scope_listed_by_the_authorizer_or_in_its_scope_claim() {
        let listed = GatewayClaims { scopes: vec!["orders/operate".to_owned()], ..GatewayClaims::default() };
        let claimed = GatewayClaims {
            claims: HashMap::from([("scope".to_owned(), "openid orders/operate".to_owned())]),
            ..GatewayClaims::default()
        };
        assert!(listed.grants("orders/operate"));
        assert!(claimed.grants("orders/operate"));
        assert!(!claimed.grants("orders"));
        assert!(!GatewayClaims::default().grants("orders/operate"));
    }
}
