//! Extractors that turn raw requests into typed input or an `ApiError`, never a bare 4xx of
//! axum's own.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use orderflow_domain::idempotency::IdempotencyKey;
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, InvalidParam};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body of type `T`, read with the size limit and parsed with errors that point
/// at the offending member.
///
/// - a content type other than `application/json` (or a `+json` type) is a 415;
/// - more than [`MAX_BODY_BYTES`] is a 413;
/// - bytes that are not JSON are a 400 `malformed-json`;
/// - JSON of the wrong shape (a missing field, a string for a number, an unknown field) is a 422
///   `validation` naming the member by JSON pointer.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        require_json(request.headers())?;
        let bytes = read_body(request).await?;
        parse_json(&bytes).map(Self)
    }
}

/// A request body of at most [`MAX_BODY_BYTES`], whatever its type: more is a 413 problem, like
/// [`JsonBody`]'s, and not axum's own plain-text one with its larger default limit.
#[derive(Debug)]
pub struct LimitedBody(pub bytes::Bytes);

impl<S: Send + Sync> FromRequest<S> for LimitedBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        read_body(request).await.map(Self)
    }
}

/// One segment of the path captured by the route (`{id}`, `{sku}`). A segment that does not
/// decode to UTF-8 (`%FF`) names no resource: `404`, as any other id that does not exist.
#[derive(Debug)]
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(segment)| Self(segment))
            .map_err(|_| ApiError::NotFound("resource"))
    }
}

/// A query string deserialized into `T`; a query that does not fit (a parameter given twice, a
/// required one missing) is a 400 `invalid-parameters` naming the parameter.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(params)| Self(params))
            .map_err(|rejection| ApiError::InvalidParameters(vec![invalid_query(&rejection.body_text())]))
    }
}

/// The invalid parameter that axum's query rejection text names (`Failed to deserialize query
/// string: duplicate field `limit``), with what is wrong with it.
pub fn invalid_query(rejection: &str) -> InvalidParam {
    let message = rejection.split_once(": ").map_or(rejection, |(_, message)| message);
    let named = ["duplicate field `", "missing field `", "unknown field `"]
        .into_iter()
        .find_map(|prefix| quoted_field(message, prefix).map(|field| (prefix, field)));
    match named {
        Some(("duplicate field `", field)) => InvalidParam::parameter(field, "must be given at most once"),
        Some(("missing field `", field)) => InvalidParam::parameter(field, "is required"),
        Some((_, field)) => InvalidParam::parameter(field, "is not a parameter of this resource"),
        None => InvalidParam { pointer: None, parameter: None, header: None, detail: message.to_owned() },
    }
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json =
        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<mime::Mime>().ok()).is_some_and(
            |m| m.type_() == mime::APPLICATION && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON)),
        );
    if is_json { Ok(()) } else { Err(ApiError::UnsupportedMediaType("application/json")) }
}

async fn read_body(request: Request) -> Result<bytes::Bytes, ApiError> {
    let declared =
        request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await.map_err(|error| {
        let too_large = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
            .any(<dyn std::error::Error>::is::<http_body_util::LengthLimitError>);
        if too_large { ApiError::PayloadTooLarge(MAX_BODY_BYTES) } else { ApiError::MalformedJson(error.to_string()) }
    })
}

/// Parses JSON, locating shape errors by JSON pointer.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    if parsed.is_ok() {
        // Trailing bytes after the value make the whole body malformed.
        deserializer.end().map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    }
    parsed.map_err(|error| {
        let inner = error.inner();
        if !inner.is_data() {
            return ApiError::MalformedJson(inner.to_string());
        }
        // A shape error found before a syntax error further on: the body is still malformed.
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return ApiError::MalformedJson(syntax.to_string());
        }
        let mut pointer = json_pointer(error.path());
        let message = strip_position(&inner.to_string());
        // Point at the member itself for a missing or unknown field, not at its parent.
        if let Some(field) =
            quoted_field(&message, "missing field `").or_else(|| quoted_field(&message, "unknown field `"))
        {
            let token = format!("/{}", escape_pointer_token(field));
            if !pointer.ends_with(&token) {
                pointer.push_str(&token);
            }
        }
        ApiError::validation_at(pointer, message)
    })
}

fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", escape_pointer_token(key))),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn quoted_field<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// serde_json appends "at line 1 column 42", which means nothing once we give a pointer.
fn strip_position(message: &str) -> String {
    message.split(" at line ").next().unwrap_or(message).to_owned()
}

/// The optional `Idempotency-Key` header.
#[derive(Debug)]
pub struct MaybeIdempotencyKey(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeIdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else { return Ok(Self(None)) };
        let invalid = |detail: &str| ApiError::InvalidParameters(vec![InvalidParam::header("Idempotency-Key", detail)]);
        let raw = value.to_str().map_err(|_| invalid("must be visible ASCII"))?;
        IdempotencyKey::parse(raw).map(|key| Self(Some(key))).map_err(|e| invalid(e.reason()))
    }
}

/// An order version as an entity tag: `"7"`.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The `If-Match` condition of a request.
#[derive(Debug)]
pub enum IfMatch {
    Absent,
    Any,
    /// The opaque parts of the strong entity tags listed; weak tags never match in `If-Match`.
    Tags(Vec<String>),
}

impl IfMatch {
    /// Whether the current `version` satisfies the condition (strong comparison, RFC 9110
    /// §8.8.3.2): a well-formed tag that names no version of the order (`"stale"`) fails it,
    /// which is a 412, not a 400.
    pub fn matches(&self, version: u64) -> bool {
        match self {
            Self::Absent | Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| *tag == version.to_string()),
        }
    }
}

/// One `If-Match` field value.
#[derive(Debug, PartialEq, Eq)]
enum TagList {
    Any,
    /// Each tag: whether it is weak, and its opaque part.
    Tags(Vec<(bool, String)>),
}

/// The entity tags of one `If-Match` field value (RFC 9110 §8.8.3 and §13.1.1):
/// `"*"` or a list of `[W/]"<etagc>*"`. `None` when the value does not follow that grammar.
fn entity_tags(value: &[u8]) -> Option<TagList> {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let trimmed = value.trim_ascii();
    if trimmed == b"*" {
        return Some(TagList::Any);
    }
    let mut tags = Vec::new();
    let mut rest = trimmed;
    loop {
        // Empty list elements (`a, , b`) are allowed by the list syntax (RFC 9110 §5.6.1).
        while let Some((first, tail)) = rest.split_first() {
            if *first == b',' || is_ows(first) { rest = tail } else { break }
        }
        if rest.is_empty() {
            return Some(TagList::Tags(tags));
        }
        let weak = rest.starts_with(b"W/");
        if weak {
            rest = &rest[2..];
        }
        let opaque = rest.strip_prefix(b"\"")?;
        let end = opaque.iter().position(|b| *b == b'"')?;
        let (tag, tail) = opaque.split_at(end);
        // etagc = %x21 / %x23-7E / obs-text
        if !tag.iter().all(|b| *b == 0x21 || (0x23..=0x7E).contains(b) || *b >= 0x80) {
            return None;
        }
        tags.push((weak, String::from_utf8_lossy(tag).into_owned()));
        rest = tail[1..].trim_ascii_start();
        if !(rest.is_empty() || rest.starts_with(b",")) {
            return None;
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(IF_MATCH) {
            return Ok(Self::Absent);
        }
        let mut strong = Vec::new();
        for value in parts.headers.get_all(IF_MATCH) {
            match entity_tags(value.as_bytes()) {
                Some(TagList::Any) => return Ok(Self::Any),
                Some(TagList::Tags(tags)) => {
                    strong.extend(tags.into_iter().filter(|(weak, _)| !weak).map(|(_, tag)| tag));
                }
                None => {
                    return Err(ApiError::InvalidParameters(vec![InvalidParam::header(
                        "If-Match",
                        "must be \"*\" or entity tags such as \"3\", as returned in ETag",
                    )]));
                }
            }
        }
        Ok(Self::Tags(strong))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        sku: String,
        quantity: i64,
    }

    fn pointer_of(json: &str) -> String {
        match parse_json::<Body>(json.as_bytes()) {
            Err(ApiError::Validation(errors)) => errors[0].pointer.clone().unwrap_or_default(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_wrong_type_is_located_by_json_pointer() {
        assert_eq!(
            pointer_of(r#"{"items":[{"sku":"A","quantity":1},{"sku":"B","quantity":"two"}]}"#),
            "/items/1/quantity"
        );
    }

    #[test]
    fn missing_and_unknown_fields_point_at_the_member_itself() {
        assert_eq!(pointer_of(r#"{"items":[{"quantity":1}]}"#), "/items/0/sku");
        assert_eq!(pointer_of(r#"{"items":[{"sku":"A","quantity":1,"price":1}]}"#), "/items/0/price");
    }

    #[test]
    fn bytes_that_are_not_json_are_malformed() {
        assert!(matches!(parse_json::<Body>(b"{\"items\": ["), Err(ApiError::MalformedJson(_))));
        assert!(matches!(parse_json::<Body>(b"{\"items\": []} trailing"), Err(ApiError::MalformedJson(_))));
    }

    fn if_match(value: &str) -> Option<TagList> {
        entity_tags(value.as_bytes())
    }

    #[test]
    fn if_match_follows_the_entity_tag_grammar() {
        assert_eq!(if_match(" * "), Some(TagList::Any));
        assert_eq!(if_match(r#""3""#), Some(TagList::Tags(vec![(false, "3".to_owned())])));
        assert_eq!(
            if_match(r#"W/"3", "stale" ,"a,b""#),
            Some(TagList::Tags(vec![(true, "3".to_owned()), (false, "stale".to_owned()), (false, "a,b".to_owned())]))
        );
        assert_eq!(if_match(r#""""#), Some(TagList::Tags(vec![(false, String::new())])));
        for malformed in ["3", r#""3"x"#, r#""unterminated"#, "W/3", "\"a b\"", r#""3" "4""#] {
            assert_eq!(if_match(malformed), None, "{malformed}");
        }
    }

    #[test]
    fn a_query_rejection_names_its_parameter() {
        let duplicate = invalid_query("Failed to deserialize query string: duplicate field `limit`");
        assert_eq!(duplicate.parameter.as_deref(), Some("limit"));
        let missing = invalid_query("Failed to deserialize query string: missing field `expires`");
        assert_eq!((missing.parameter.as_deref(), missing.detail.as_str()), (Some("expires"), "is required"));
    }
}
