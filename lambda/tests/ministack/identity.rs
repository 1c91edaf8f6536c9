//! The identity provider the HTTP API's JWT authorizer trusts: an OpenID issuer on loopback that
//! publishes its discovery document and signing key, and signs RS256 tokens for customers and
//! operators. The gateway verifies them as API Gateway would (signature, issuer, audience,
//! expiry); the API only ever sees the claims the authorizer passes on.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

/// The audience the authorizer requires, and every token names.
pub const AUDIENCE: &str = "orderflow-e2e";
/// The scope that makes a caller an operator (the API's default `OPERATOR_SCOPE`).
pub const OPERATOR_SCOPE: &str = "orders/operate";
const KEY_ID: &str = "e2e-1";

/// A key generated for these tests alone; it signs nothing outside them.
const SIGNING_KEY: &str = include_str!("../fixtures/jwt/test-only-signing-key.pem");

pub struct Issuer {
    pub url: String,
    key: RsaKeyPair,
    server: tokio::task::JoinHandle<()>,
}

impl Issuer {
    /// Serves `/.well-known/openid-configuration` and its `jwks_uri` on a free loopback port.
    pub async fn start() -> Self {
        let key = signing_key();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port for the issuer");
        let url = format!("http://{}", listener.local_addr().expect("the issuer's address"));
        let discovery = json!({ "issuer": url, "jwks_uri": format!("{url}/.well-known/jwks.json") });
        let jwks = json!({ "keys": [public_jwk(&key)] });
        let routes = axum::Router::new()
            .route("/.well-known/openid-configuration", get(move || async move { Json(discovery) }))
            .route("/.well-known/jwks.json", get(move || async move { Json(jwks) }));
        let server = tokio::spawn(async move {
            axum::serve(listener, routes).await.expect("the issuer serves");
        });
        Self { url, key, server }
    }

    /// A bearer token for customer `customer` (the `sub` claim, which the API reads by default).
    pub fn customer(&self, customer: &str) -> String {
        self.token(json!({ "sub": customer }))
    }

    /// A bearer token for an operator: the operator scope, and a subject that is no customer.
    pub fn operator(&self) -> String {
        self.token(json!({ "sub": "ops-desk", "scope": OPERATOR_SCOPE }))
    }

    fn token(&self, claims: Value) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("a clock after 1970").as_secs();
        let mut claims = claims;
        claims["iss"] = json!(self.url);
        claims["aud"] = json!(AUDIENCE);
        claims["iat"] = json!(now - 5);
        claims["exp"] = json!(now + 3600);
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": KEY_ID });
        let signed = format!("{}.{}", encode(&header), encode(&claims));
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signed.as_bytes(), &mut signature)
            .expect("signing a token");
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn encode(part: &Value) -> String {
    URL_SAFE_NO_PAD.encode(part.to_string())
}

fn signing_key() -> RsaKeyPair {
    let base64: String = SIGNING_KEY.lines().filter(|line| !line.starts_with("-----")).collect();
    let der = STANDARD.decode(base64).expect("the test key is base64 PEM");
    RsaKeyPair::from_pkcs8(&der).expect("the test key is a PKCS#8 RSA key")
}

fn public_jwk(key: &RsaKeyPair) -> Value {
    let public = PublicKeyComponents::<Vec<u8>>::from(key.public());
    let unsigned = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(&bytes[bytes.iter().take_while(|b| **b == 0).count()..]);
    json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": KEY_ID,
        "n": unsigned(&public.n),
        "e": unsigned(&public.e),
    })
}
