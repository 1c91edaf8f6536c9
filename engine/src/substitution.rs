//! `${Name}` placeholders, as CDK's `definitionSubstitutions` fills them in.
//!
//! CDK replaces placeholders in the definition *text* before Step Functions parses it, so a
//! placeholder may stand anywhere (inside a string, or as a bare number). We do the same. A
//! placeholder is `${` followed by letters, digits, `_`, `-` or `.`, then `}`; any other `${` is
//! left as it is.

use std::collections::HashMap;

use crate::definition::LoadError;

/// Replaces every `${Name}` in `source` with `substitutions[Name]`.
///
/// Fails with [`LoadError::UnresolvedPlaceholder`] naming the first placeholder that has no value.
pub fn apply_substitutions<S: std::hash::BuildHasher>(
    source: &str,
    substitutions: &HashMap<String, String, S>,
) -> Result<String, LoadError> {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len =
            after.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))).unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            let name = &after[..name_len];
            let value = substitutions.get(name).ok_or_else(|| LoadError::UnresolvedPlaceholder(name.to_owned()))?;
            out.push_str(value);
            rest = &after[name_len + 1..];
        } else {
            out.push_str("${");
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn placeholders_are_replaced_wherever_they_stand() {
        let text = r#"{"Resource": "${PriceArn}", "TimeoutSeconds": ${Timeout}}"#;
        let out = apply_substitutions(text, &subs(&[("PriceArn", "local:Price"), ("Timeout", "30")])).unwrap();
        assert_eq!(out, r#"{"Resource": "local:Price", "TimeoutSeconds": 30}"#);
    }

    #[test]
    fn an_unresolved_placeholder_is_an_error_naming_it() {
        let err = apply_substitutions("${Missing}", &subs(&[])).unwrap_err();
        assert!(matches!(err, LoadError::UnresolvedPlaceholder(ref name) if name == "Missing"));
    }

    #[test]
    fn a_dollar_brace_that_is_not_a_placeholder_is_kept() {
        let out = apply_substitutions("cost ${ 5 } and ${", &subs(&[])).unwrap();
        assert_eq!(out, "cost ${ 5 } and ${");
    }
}
