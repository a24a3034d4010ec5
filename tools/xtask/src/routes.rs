//! From an axum-style route (`GET /api/attractions/{attraction_id}`) to a Gateway
//! API HTTPRoute match, and the shadowing check over all functions' routes.
//!
//! Static paths become `Exact` matches; paths with `{param}` or `{*rest}`
//! segments become anchored `RegularExpression` matches (`{param}` is
//! `[^/]+`, a trailing `{*rest}` is `.+`, literal text is regex-escaped).
//!
//! The shadowing rule checked by [`check_conflicts`], for every pair of routes
//! with the same method:
//! * two `Exact` matches must have different paths (else the same request is
//!   claimed twice);
//! * an `Exact` match against a `RegularExpression` that also matches it is
//!   allowed: Gateway API precedence ranks an Exact path match above any other
//!   path match, so the static path wins (e.g. `/api/attractions/nearby` over
//!   `/api/attractions/{attraction_id}`);
//! * two `RegularExpression` matches must not both match any path: precedence
//!   between regular expressions is implementation-specific, so overlap is a
//!   conflict (checked structurally, segment by segment).

use shared::function::Manifest;

/// How a route's path is matched at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Exact,
    RegularExpression,
}

impl MatchType {
    /// The Gateway API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Exact => "Exact",
            MatchType::RegularExpression => "RegularExpression",
        }
    }
}

/// One route as an HTTPRoute match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeMatch {
    pub method: String,
    /// The axum path, as declared.
    pub path: String,
    pub kind: MatchType,
    /// The match value: the path itself, or an anchored regex.
    pub value: String,
}

/// One path segment, for the overlap check.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A segment holding at least one `{param}` (possibly with literal text).
    Param,
    /// `{*rest}`: one or more remaining segments.
    CatchAll,
}

fn segments(path: &str) -> Vec<Segment> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with("{*") {
                Segment::CatchAll
            } else if s.contains('{') {
                Segment::Param
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}

fn regex_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The HTTPRoute match for `method path`.
pub fn edge_match(method: &str, path: &str) -> Result<EdgeMatch, String> {
    if !path.contains('{') {
        return Ok(EdgeMatch {
            method: method.to_owned(),
            path: path.to_owned(),
            kind: MatchType::Exact,
            value: path.to_owned(),
        });
    }
    let mut regex = String::from("^");
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        regex_escape(&rest[..open], &mut regex);
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| format!("{path}: unclosed '{{'"))?;
        let name = &rest[open + 1..close];
        if let Some(catch_all) = name.strip_prefix('*') {
            if close + 1 != rest.len() || catch_all.is_empty() {
                return Err(format!("{path}: {{*{catch_all}}} must end the path"));
            }
            regex.push_str(".+");
        } else {
            if name.is_empty() || name.contains('/') {
                return Err(format!("{path}: bad parameter {{{name}}}"));
            }
            regex.push_str("[^/]+");
        }
        rest = &rest[close + 1..];
    }
    regex_escape(rest, &mut regex);
    regex.push('$');
    Ok(EdgeMatch {
        method: method.to_owned(),
        path: path.to_owned(),
        kind: MatchType::RegularExpression,
        value: regex,
    })
}

/// The matches for every route of a function, in declaration order.
pub fn function_matches(manifest: &Manifest) -> Result<Vec<EdgeMatch>, String> {
    manifest
        .routes
        .iter()
        .map(|r| edge_match(&r.method, &r.path).map_err(|e| format!("{}: {e}", manifest.name)))
        .collect()
}

/// Whether some request path is matched by both parameterised paths.
fn paths_overlap(a: &[Segment], b: &[Segment]) -> bool {
    match (a.split_first(), b.split_first()) {
        (None, None) => true,
        (Some((Segment::CatchAll, _)), Some(_)) | (Some(_), Some((Segment::CatchAll, _))) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some((x, xs)), Some((y, ys))) => {
            let segment_overlaps = match (x, y) {
                (Segment::Literal(l), Segment::Literal(r)) => l == r,
                (Segment::Literal(l), Segment::Param) | (Segment::Param, Segment::Literal(l)) => {
                    !l.is_empty()
                }
                _ => true,
            };
            segment_overlaps && paths_overlap(xs, ys)
        }
    }
}

/// Whether a static path is matched by a parameterised one.
pub fn static_matched_by(path: &str, pattern: &str) -> bool {
    paths_overlap(&segments(path), &segments(pattern))
}

/// A static path that a regex rule also matches, resolved by Exact precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub method: String,
    pub exact: (String, String),
    pub regex: (String, String),
}

/// Checks the routes of all functions, as `(function, match)` pairs, against the
/// rule in the module docs. Returns the Exact-over-regex cases that precedence
/// resolves, or every conflict found.
pub fn check_conflicts(all: &[(String, EdgeMatch)]) -> Result<Vec<Resolved>, Vec<String>> {
    let mut errors = Vec::new();
    let mut resolved = Vec::new();
    for (i, (fa, a)) in all.iter().enumerate() {
        for (fb, b) in &all[i + 1..] {
            if a.method != b.method {
                continue;
            }
            let who = |f: &str, m: &EdgeMatch| format!("{f} ({} {})", m.method, m.path);
            match (a.kind, b.kind) {
                (MatchType::Exact, MatchType::Exact) => {
                    if a.value == b.value {
                        errors.push(format!(
                            "{} and {} claim the same path",
                            who(fa, a),
                            who(fb, b)
                        ));
                    }
                }
                (MatchType::RegularExpression, MatchType::RegularExpression) => {
                    if paths_overlap(&segments(&a.path), &segments(&b.path)) {
                        errors.push(format!(
                            "{} and {} overlap (regex precedence is implementation-specific)",
                            who(fa, a),
                            who(fb, b)
                        ));
                    }
                }
                _ => {
                    let ((fe, e), (fr, r)) = if a.kind == MatchType::Exact {
                        ((fa, a), (fb, b))
                    } else {
                        ((fb, b), (fa, a))
                    };
                    if static_matched_by(&e.path, &r.path) {
                        resolved.push(Resolved {
                            method: e.method.clone(),
                            exact: (fe.clone(), e.path.clone()),
                            regex: (fr.clone(), r.path.clone()),
                        });
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(resolved)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(f: &str, method: &str, path: &str) -> (String, EdgeMatch) {
        (f.to_owned(), edge_match(method, path).unwrap())
    }

    #[test]
    fn static_paths_are_exact() {
        let e = edge_match("GET", "/api/cities").unwrap();
        assert_eq!(e.kind, MatchType::Exact);
        assert_eq!(e.value, "/api/cities");
    }

    #[test]
    fn params_become_anchored_regexes() {
        let e = edge_match("GET", "/api/cities/{city_id}/attractions").unwrap();
        assert_eq!(e.kind, MatchType::RegularExpression);
        assert_eq!(e.value, "^/api/cities/[^/]+/attractions$");
        assert_eq!(
            edge_match("GET", "/docs/{*asset}").unwrap().value,
            "^/docs/.+$"
        );
        assert_eq!(
            edge_match("GET", "/v1.0/{id}").unwrap().value,
            "^/v1\\.0/[^/]+$"
        );
        assert!(edge_match("GET", "/docs/{*asset}/x").is_err());
        assert!(edge_match("GET", "/docs/{id").is_err());
    }

    #[test]
    fn exact_over_regex_is_resolved_by_precedence() {
        let all = [
            m("attractions-get", "GET", "/api/attractions/{attraction_id}"),
            m("attractions-nearby", "GET", "/api/attractions/nearby"),
            m("attractions-search", "GET", "/api/attractions/search"),
            m("travels-get", "GET", "/api/travels/{route_id}"),
            m("travels-search", "GET", "/api/travels/search"),
        ];
        let resolved = check_conflicts(&all).unwrap();
        assert_eq!(resolved.len(), 3);
        assert!(
            resolved
                .iter()
                .any(|r| r.exact.1 == "/api/travels/search" && r.regex.0 == "travels-get")
        );
    }

    #[test]
    fn duplicate_exact_paths_conflict() {
        let all = [m("a", "GET", "/api/x"), m("b", "GET", "/api/x")];
        assert_eq!(check_conflicts(&all).unwrap_err().len(), 1);
        let other_method = [m("a", "GET", "/api/x"), m("b", "POST", "/api/x")];
        assert!(check_conflicts(&other_method).is_ok());
    }

    #[test]
    fn overlapping_regexes_conflict() {
        let all = [
            m("a", "GET", "/api/cities/{id}"),
            m("b", "GET", "/api/{kind}/x"),
        ];
        assert!(check_conflicts(&all).is_err());
        let catch_all = [m("a", "GET", "/docs/{*asset}"), m("b", "GET", "/docs/{id}")];
        assert!(check_conflicts(&catch_all).is_err());
        let disjoint = [
            m("a", "GET", "/api/cities/{id}"),
            m("b", "GET", "/api/cities/{id}/attractions"),
            m("c", "GET", "/api/attractions/{id}"),
        ];
        assert!(check_conflicts(&disjoint).is_ok());
    }

    #[test]
    fn static_paths_only_match_patterns_of_their_shape() {
        assert!(static_matched_by(
            "/api/attractions/nearby",
            "/api/attractions/{id}"
        ));
        assert!(!static_matched_by(
            "/api/attractions",
            "/api/attractions/{id}"
        ));
        assert!(static_matched_by("/docs/a/b.js", "/docs/{*asset}"));
        assert!(!static_matched_by("/docs", "/docs/{*asset}"));
    }
}
