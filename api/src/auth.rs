//! Who is calling, and how the API learns it: the one place authentication plugs in.

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
}
