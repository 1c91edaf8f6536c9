//! Choice rules: comparisons, type tests and boolean combinators.
//!
//! A rule is compiled when the definition loads. Evaluation follows Step Functions:
//! a comparison whose `Variable` (or `...Path` operand) is missing fails the execution with
//! `States.Runtime`, except `IsPresent`; a value of the wrong type makes a comparison false.
//! `Variable` and the `...Path` operands read the state's effective input (`$.total`) or the
//! context object (`$$.Execution.Input.total`).

use std::cmp::Ordering;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::errors::StateError;
use crate::paths::{Path, Scope};

/// The kind of value a comparison works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

/// The comparison itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

impl Relation {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Equals => ordering == Ordering::Equal,
            Self::LessThan => ordering == Ordering::Less,
            Self::GreaterThan => ordering == Ordering::Greater,
            Self::LessThanEquals => ordering != Ordering::Greater,
            Self::GreaterThanEquals => ordering != Ordering::Less,
        }
    }
}

/// Where a rule reads a value: the effective input (`$...`) or the context object (`$$...`).
#[derive(Debug, Clone)]
struct Location {
    path: Path,
    in_context: bool,
}

impl Location {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(match text.strip_prefix("$$") {
            Some(rest) => Self { path: Path::parse(&format!("${rest}"))?, in_context: true },
            None => Self { path: Path::parse(text)?, in_context: false },
        })
    }

    fn find(&self, scope: &Scope<'_>) -> Option<Value> {
        self.path.find(if self.in_context { scope.context() } else { scope.input() })
    }

    /// The value, or the `States.Runtime` error of a condition path that finds nothing.
    fn select(&self, scope: &Scope<'_>) -> Result<Value, StateError> {
        self.find(scope).ok_or_else(|| {
            StateError::runtime(format!(
                "Invalid path '{}{}': The choice state's condition path references an invalid value.",
                if self.in_context { "$" } else { "" },
                self.path.as_str()
            ))
        })
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone)]
enum Operand {
    Literal(Value),
    Path(Location),
}

/// A type test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

/// What a rule checks of its variable.
#[derive(Debug, Clone)]
enum Test {
    Compare { kind: Kind, relation: Relation, operand: Operand },
    Matches(Vec<Glob>),
    Type { test: TypeTest, expected: bool },
}

/// One piece of a `StringMatches` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Glob {
    Literal(char),
    Star,
}

/// A compiled choice rule (or nested rule).
#[derive(Debug, Clone)]
pub struct Rule(Node);

#[derive(Debug, Clone)]
enum Node {
    /// All of the rules hold.
    And(Vec<Rule>),
    /// Any of the rules holds.
    Or(Vec<Rule>),
    /// The rule does not hold.
    Not(Box<Rule>),
    /// A test of the value at `variable`.
    Check { variable: Location, test: Box<Test> },
}

/// Names of the fields a rule may have besides its operator.
const RULE_FIELDS: [&str; 3] = ["Variable", "Next", "Comment"];

impl Rule {
    /// Compiles a rule from its JSON object. `Next` is handled by the caller. An error is the
    /// field at fault (relative to the rule) and a message.
    pub fn compile(object: &Map<String, Value>) -> Result<Self, (String, String)> {
        let operators: Vec<&String> = object.keys().filter(|k| !RULE_FIELDS.contains(&k.as_str())).collect();
        let [operator] = operators.as_slice() else {
            return Err((
                "Variable".into(),
                format!("a rule must have exactly one comparison operator, found {}", operators.len()),
            ));
        };
        let operator = operator.as_str();
        let value = &object[operator];
        match operator {
            "And" | "Or" | "Not" => {
                if object.contains_key("Variable") {
                    return Err(("Variable".into(), format!("a rule with {operator} must not have a Variable")));
                }
                return Self::compile_combinator(operator, value);
            }
            _ => {}
        }
        let variable = match object.get("Variable") {
            Some(Value::String(text)) => Location::parse(text).map_err(|e| ("Variable".to_owned(), e))?,
            Some(_) => return Err(("Variable".into(), "must be a string path".into())),
            None => return Err(("Variable".into(), format!("the rule with {operator} has no Variable"))),
        };
        let test = compile_test(operator, value).map_err(|e| (operator.to_owned(), e))?;
        Ok(Self(Node::Check { variable, test: Box::new(test) }))
    }

    fn compile_combinator(operator: &str, value: &Value) -> Result<Self, (String, String)> {
        let nested = |index: Option<usize>, value: &Value| -> Result<Self, (String, String)> {
            let label = index.map_or_else(|| operator.to_owned(), |i| format!("{operator}[{i}]"));
            let Value::Object(object) = value else {
                return Err((label, "must be a rule object".into()));
            };
            if object.contains_key("Next") {
                return Err((format!("{label}.Next"), "a nested rule must not have a Next".into()));
            }
            Self::compile(object).map_err(|(field, e)| (format!("{label}.{field}"), e))
        };
        if operator == "Not" {
            return Ok(Self(Node::Not(Box::new(nested(None, value)?))));
        }
        let Value::Array(items) = value else {
            return Err((operator.to_owned(), "must be a non-empty array of rules".into()));
        };
        if items.is_empty() {
            return Err((operator.to_owned(), "must be a non-empty array of rules".into()));
        }
        let rules = items.iter().enumerate().map(|(i, v)| nested(Some(i), v)).collect::<Result<_, _>>()?;
        Ok(Self(if operator == "And" { Node::And(rules) } else { Node::Or(rules) }))
    }

    /// Evaluates the rule against the state's effective input (and context object).
    pub fn evaluate(&self, scope: &Scope<'_>) -> Result<bool, StateError> {
        match &self.0 {
            Node::And(rules) => {
                for rule in rules {
                    if !rule.evaluate(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(rules) => {
                for rule in rules {
                    if rule.evaluate(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Node::Not(rule) => Ok(!rule.evaluate(scope)?),
            Node::Check { variable, test } => evaluate_check(variable, test, scope),
        }
    }
}

fn compile_test(operator: &str, value: &Value) -> Result<Test, String> {
    let type_test = match operator {
        "IsNull" => Some(TypeTest::Null),
        "IsPresent" => Some(TypeTest::Present),
        "IsNumeric" => Some(TypeTest::Numeric),
        "IsString" => Some(TypeTest::String),
        "IsBoolean" => Some(TypeTest::Boolean),
        "IsTimestamp" => Some(TypeTest::Timestamp),
        _ => None,
    };
    if let Some(test) = type_test {
        let expected = value.as_bool().ok_or("must be true or false")?;
        return Ok(Test::Type { test, expected });
    }
    if operator == "StringMatches" {
        let pattern = value.as_str().ok_or("must be a string pattern")?;
        return Ok(Test::Matches(compile_glob(pattern)));
    }
    let (base, is_path) = operator.strip_suffix("Path").map_or((operator, false), |b| (b, true));
    let (kind, relation_name) = [
        ("String", Kind::String),
        ("Numeric", Kind::Numeric),
        ("Boolean", Kind::Boolean),
        ("Timestamp", Kind::Timestamp),
    ]
    .into_iter()
    .find_map(|(prefix, kind)| base.strip_prefix(prefix).map(|rest| (kind, rest)))
    .ok_or_else(|| format!("'{operator}' is not a comparison operator"))?;
    let relation = match relation_name {
        "Equals" => Relation::Equals,
        "LessThan" if kind != Kind::Boolean => Relation::LessThan,
        "GreaterThan" if kind != Kind::Boolean => Relation::GreaterThan,
        "LessThanEquals" if kind != Kind::Boolean => Relation::LessThanEquals,
        "GreaterThanEquals" if kind != Kind::Boolean => Relation::GreaterThanEquals,
        _ => return Err(format!("'{operator}' is not a comparison operator")),
    };
    let operand = if is_path {
        Operand::Path(Location::parse(value.as_str().ok_or("must be a string path")?)?)
    } else {
        let fits = match kind {
            Kind::String => value.is_string(),
            Kind::Numeric => value.is_number(),
            Kind::Boolean => value.is_boolean(),
            Kind::Timestamp => value.as_str().is_some_and(|s| parse_timestamp(s).is_some()),
        };
        if !fits {
            return Err(format!("the value {value} does not fit {operator}"));
        }
        Operand::Literal(value.clone())
    };
    Ok(Test::Compare { kind, relation, operand })
}

fn evaluate_check(variable: &Location, test: &Test, scope: &Scope<'_>) -> Result<bool, StateError> {
    if let Test::Type { test: TypeTest::Present, expected } = test {
        return Ok(variable.find(scope).is_some() == *expected);
    }
    let value = variable.select(scope)?;
    Ok(match test {
        Test::Type { test, expected } => {
            let actual = match test {
                TypeTest::Null => value.is_null(),
                TypeTest::Present => true,
                TypeTest::Numeric => value.is_number(),
                TypeTest::String => value.is_string(),
                TypeTest::Boolean => value.is_boolean(),
                TypeTest::Timestamp => value.as_str().is_some_and(|s| parse_timestamp(s).is_some()),
            };
            actual == *expected
        }
        Test::Matches(glob) => value.as_str().is_some_and(|s| glob_matches(glob, s)),
        Test::Compare { kind, relation, operand } => {
            let other = match operand {
                Operand::Literal(v) => v.clone(),
                Operand::Path(location) => location.select(scope)?,
            };
            compare(*kind, &value, &other).is_some_and(|ordering| relation.holds(ordering))
        }
    })
}

/// Orders two values as `kind`, or `None` when either is not of that kind.
fn compare(kind: Kind, left: &Value, right: &Value) -> Option<Ordering> {
    match kind {
        Kind::String => Some(left.as_str()?.cmp(right.as_str()?)),
        Kind::Boolean => Some(left.as_bool()?.cmp(&right.as_bool()?)),
        Kind::Timestamp => Some(parse_timestamp(left.as_str()?)?.cmp(&parse_timestamp(right.as_str()?)?)),
        Kind::Numeric => {
            let (l, r) = (left.as_number()?, right.as_number()?);
            match (l.as_i64(), r.as_i64()) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => l.as_f64()?.partial_cmp(&r.as_f64()?),
            }
        }
    }
}

/// Parses an RFC 3339 timestamp, as Step Functions accepts them (`2016-03-14T01:59:00Z`).
pub(crate) fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// Compiles a `StringMatches` pattern: `*` matches any run of characters, `\*` a star and
/// `\\` a backslash.
fn compile_glob(pattern: &str) -> Vec<Glob> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(Glob::Literal(chars.next().unwrap_or('\\'))),
            '*' => out.push(Glob::Star),
            other => out.push(Glob::Literal(other)),
        }
    }
    out
}

/// Wildcard matching with single-star backtracking (linear in practice).
fn glob_matches(pattern: &[Glob], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Glob::Star) => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(Glob::Literal(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|g| *g == Glob::Star)
}

#[cfg(test)]
#[allow(clippy::needless_pass_by_value)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::errors::names;

    fn rule(value: Value) -> Rule {
        let Value::Object(map) = value else { panic!("not an object") };
        Rule::compile(&map).unwrap_or_else(|(field, e)| panic!("{field}: {e}"))
    }

    fn context() -> Value {
        json!({"Execution": {"Input": {"mode": "express", "limit": 3}}, "State": {"Name": "Route"}})
    }

    fn evaluate(rule_json: Value, input: &Value) -> Result<bool, StateError> {
        rule(rule_json).evaluate(&Scope::new(input, &context))
    }

    fn holds(rule_json: Value, input: Value) -> bool {
        evaluate(rule_json, &input).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn string_comparisons_are_lexicographic() {
        assert!(holds(json!({"Variable": "$.s", "StringEquals": "abc"}), json!({"s": "abc"})));
        assert!(holds(json!({"Variable": "$.s", "StringLessThan": "b"}), json!({"s": "abc"})));
        assert!(holds(json!({"Variable": "$.s", "StringGreaterThan": "B"}), json!({"s": "a"})));
        assert!(holds(json!({"Variable": "$.s", "StringLessThanEquals": "abc"}), json!({"s": "abc"})));
        assert!(!holds(json!({"Variable": "$.s", "StringGreaterThanEquals": "b"}), json!({"s": "abc"})));
    }

    #[test]
    fn numeric_comparisons_mix_integers_and_floats() {
        assert!(holds(json!({"Variable": "$.n", "NumericEquals": 2}), json!({"n": 2.0})));
        assert!(holds(json!({"Variable": "$.n", "NumericLessThan": 2.5}), json!({"n": 2})));
        assert!(holds(json!({"Variable": "$.n", "NumericGreaterThanEquals": -1}), json!({"n": -1})));
        assert!(!holds(json!({"Variable": "$.n", "NumericGreaterThan": 10}), json!({"n": 9.99})));
    }

    #[test]
    fn a_value_of_the_wrong_type_makes_a_comparison_false() {
        assert!(!holds(json!({"Variable": "$.n", "NumericEquals": 1}), json!({"n": "1"})));
        assert!(!holds(json!({"Variable": "$.n", "StringEquals": "1"}), json!({"n": 1})));
        assert!(!holds(
            json!({"Variable": "$.t", "TimestampEquals": "2020-01-01T00:00:00Z"}),
            json!({"t": "yesterday"})
        ));
    }

    #[test]
    fn path_operands_compare_two_input_values() {
        let input = json!({"a": 3, "b": 5, "s": "x", "t": "x", "f": true, "g": true});
        assert!(holds(json!({"Variable": "$.a", "NumericLessThanPath": "$.b"}), input.clone()));
        assert!(holds(json!({"Variable": "$.s", "StringEqualsPath": "$.t"}), input.clone()));
        assert!(holds(json!({"Variable": "$.f", "BooleanEqualsPath": "$.g"}), input));
    }

    #[test]
    fn timestamps_compare_as_instants_across_offsets() {
        let input = json!({"t": "2024-01-01T10:00:00+02:00"});
        assert!(holds(json!({"Variable": "$.t", "TimestampEquals": "2024-01-01T08:00:00Z"}), input.clone()));
        assert!(holds(json!({"Variable": "$.t", "TimestampLessThan": "2024-01-01T08:00:01Z"}), input.clone()));
        assert!(holds(json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2024-01-01T08:00:00Z"}), input));
    }

    #[test]
    fn type_tests_check_the_json_type() {
        let input = json!({"n": null, "x": 1.5, "s": "a", "b": false, "t": "2024-05-01T00:00:00Z"});
        assert!(holds(json!({"Variable": "$.n", "IsNull": true}), input.clone()));
        assert!(holds(json!({"Variable": "$.x", "IsNumeric": true}), input.clone()));
        assert!(holds(json!({"Variable": "$.s", "IsString": true}), input.clone()));
        assert!(holds(json!({"Variable": "$.b", "IsBoolean": true}), input.clone()));
        assert!(holds(json!({"Variable": "$.t", "IsTimestamp": true}), input.clone()));
        assert!(holds(json!({"Variable": "$.s", "IsTimestamp": false}), input.clone()));
        assert!(holds(json!({"Variable": "$.missing", "IsPresent": false}), input.clone()));
        assert!(holds(json!({"Variable": "$.s", "IsPresent": true}), input));
    }

    #[test]
    fn a_missing_variable_is_a_runtime_error() {
        let err = evaluate(json!({"Variable": "$.missing", "StringEquals": "a"}), &json!({})).unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
        let err = evaluate(json!({"Variable": "$.missing", "IsNull": true}), &json!({})).unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
    }

    #[test]
    fn variables_and_path_operands_may_read_the_context_object() {
        let input = json!({"mode": "standard", "count": 3});
        assert!(holds(json!({"Variable": "$$.Execution.Input.mode", "StringEquals": "express"}), input.clone()));
        assert!(holds(json!({"Variable": "$$.State.Name", "StringEqualsPath": "$$.State.Name"}), input.clone()));
        assert!(holds(json!({"Variable": "$.count", "NumericEqualsPath": "$$.Execution.Input.limit"}), input.clone()));
        assert!(holds(json!({"Variable": "$$.Execution.Input.missing", "IsPresent": false}), input.clone()));
        let err = evaluate(json!({"Variable": "$$.Execution.Nope", "IsNull": true}), &input).unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
        assert!(err.cause.contains("'$$.Execution.Nope'"), "{}", err.cause);
    }

    #[test]
    fn string_matches_supports_wildcards_and_escapes() {
        let check =
            |pattern: &str, text: &str| holds(json!({"Variable": "$.s", "StringMatches": pattern}), json!({"s": text}));
        assert!(check("log-*.txt", "log-2024.txt"));
        assert!(check("*", ""));
        assert!(check("a*b*c", "aXXbYYc"));
        assert!(!check("a*b", "a-c"));
        assert!(check(r"five\*", "five*"));
        assert!(!check(r"five\*", "fives"));
        assert!(check(r"back\\slash", r"back\slash"));
    }

    #[test]
    fn and_or_not_combine_rules() {
        let input = json!({"a": 1, "b": "x"});
        assert!(holds(
            json!({"And": [{"Variable": "$.a", "NumericEquals": 1}, {"Not": {"Variable": "$.b", "StringEquals": "y"}}]}),
            input.clone()
        ));
        assert!(holds(
            json!({"Or": [{"Variable": "$.a", "NumericEquals": 2}, {"Variable": "$.b", "StringEquals": "x"}]}),
            input.clone()
        ));
        assert!(!holds(json!({"Not": {"Variable": "$.a", "NumericEquals": 1}}), input));
    }

    #[test]
    fn malformed_rules_are_rejected_with_the_field() {
        let compile = |v: Value| Rule::compile(v.as_object().unwrap()).unwrap_err();
        assert_eq!(compile(json!({"Variable": "$.a"})).0, "Variable");
        assert_eq!(compile(json!({"Variable": "$.a", "NumericEquals": "1"})).0, "NumericEquals");
        assert_eq!(compile(json!({"Variable": "$.a", "BooleanLessThan": true})).0, "BooleanLessThan");
        assert_eq!(compile(json!({"Variable": "$.a", "TimestampEquals": "soon"})).0, "TimestampEquals");
        assert_eq!(compile(json!({"And": []})).0, "And");
        assert_eq!(compile(json!({"Not": {"Variable": "$.a", "IsNull": true, "Next": "X"}})).0, "Not.Next");
        assert_eq!(compile(json!({"StringEquals": "a"})).0, "Variable");
    }
}
