//! What the adapter's tests share: the adapter set up on a server.

use orderflow_adapters_easypost::fake::KEY;
use orderflow_adapters_easypost::{ApiKey, EasyPostCarrier, carrier_preferences};
use orderflow_port_contracts::fixtures::address_in;
use wiremock::MockServer;

/// The adapter on `server`, shipping from the warehouse in Portland with DHL Express, then FedEx
/// Ground.
pub fn easypost(server: &MockServer) -> EasyPostCarrier {
    EasyPostCarrier::with_timeout(
        server.uri(),
        ApiKey::new(KEY),
        address_in("97214", "US"),
        carrier_preferences("DHLExpress, FedEx:FEDEX_GROUND").expect("a preference list"),
        std::time::Duration::from_millis(500),
    )
    .expect("a client")
}
