//! The `Carrier` contract, run on the EasyPost adapter against a stateful fake EasyPost: the same
//! guarantees the simulator gives.

mod common;

use orderflow_adapters_easypost::fake::FakeEasyPost;
use orderflow_port_contracts as contracts;

macro_rules! contract_tests {
    ($suite:ident, => $($name:ident),+ $(,)?) => {
        mod $suite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let fake = FakeEasyPost::start().await;
                    contracts::$suite::$name(&common::easypost(&fake.server)).await;
                }
            )+
        }
    };
}

contracts::suite!(carrier => contract_tests! {});
