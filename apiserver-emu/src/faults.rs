//! Faults injected on demand: which requests they hit and what they do.
//!
//! Rules are checked in the order they were added; the first one that fires wins. A rule
//! with `times` fires for that many matching requests and is then removed. A rule with
//! `probability` fires for each matching request with that probability, drawn from its own
//! generator: seeded with `seed` it fires for exactly the same requests on every run.

use std::time::Duration;

use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// What a fault does to a request it hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with this status code (500, 503, ...) and the apiserver's Status body for it,
    /// without executing the request.
    Status(u16),
    /// 429 with `Retry-After`, without executing the request.
    TooManyRequests { retry_after_secs: u64 },
    /// 409 Conflict (optimistic-lock message), without executing the request.
    Conflict,
    /// Delay the request (in milliseconds over JSON), then execute it normally.
    Latency(#[serde(with = "millis")] Duration),
    /// Execute the request, then cut the response off after its headers and part of its
    /// body: the client cannot know whether a write happened.
    DropConnection,
    /// 410 Expired, as for a list whose revision was compacted away (with a resuming
    /// token when the request carries `continue`), without executing the request.
    Expired,
}

/// Which requests a fault applies to, and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// HTTP method (`PUT`), or any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Matched against the request path (no query). With a `*` it is a glob where `*`
    /// matches any run of characters (including `/`) and the whole path must match;
    /// without one it is a substring match.
    pub path_pattern: String,
    /// Only requests whose query carries this parameter with a value (`continue`: the
    /// later pages of a list).
    #[serde(default)]
    pub query_param: Option<String>,
    pub action: FaultAction,
    /// Fire for the next N matching requests only.
    #[serde(default)]
    pub times: Option<u32>,
    /// Fire for each matching request with this probability (0.0..=1.0).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Seed for the probability draws; random when absent.
    #[serde(default)]
    pub seed: Option<u64>,
}

impl FaultRule {
    /// A rule for every request, of any method, whose path matches `path_pattern`, every
    /// time; narrow it with the methods below.
    pub fn new(path_pattern: impl Into<String>, action: FaultAction) -> FaultRule {
        FaultRule {
            method: None,
            path_pattern: path_pattern.into(),
            query_param: None,
            action,
            times: None,
            probability: None,
            seed: None,
        }
    }

    /// Only requests of this HTTP method.
    pub fn method(mut self, method: impl Into<String>) -> FaultRule {
        self.method = Some(method.into());
        self
    }

    /// Only requests whose query carries this parameter with a value.
    pub fn query_param(mut self, name: impl Into<String>) -> FaultRule {
        self.query_param = Some(name.into());
        self
    }

    /// Only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> FaultRule {
        self.times = Some(n);
        self
    }

    /// Each matching request with probability `p`, drawn from a generator seeded with
    /// `seed` (the same requests on every run).
    pub fn probability(mut self, p: f64, seed: u64) -> FaultRule {
        self.probability = Some(p);
        self.seed = Some(seed);
        self
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Does `path` match `pattern` (see [`FaultRule::path_pattern`])?
pub fn path_matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        return path.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(split) => split,
        None => return false,
    };
    let Some(mut remaining) = path.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[derive(Debug)]
struct ActiveFault {
    rule: FaultRule,
    rng: StdRng,
    fired: u32,
}

/// The installed rules.
#[derive(Debug, Default)]
pub struct FaultSet {
    active: Vec<ActiveFault>,
}

impl FaultSet {
    pub fn add(&mut self, rule: FaultRule) {
        let rng = match rule.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_rng(&mut rand::rng()),
        };
        self.active.push(ActiveFault {
            rule,
            rng,
            fired: 0,
        });
    }

    pub fn clear(&mut self) {
        self.active.clear();
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        self.active.iter().map(|a| a.rule.clone()).collect()
    }

    /// The fault to apply to this request, if any rule fires.
    pub fn decide(
        &mut self,
        method: &str,
        path: &str,
        has_param: impl Fn(&str) -> bool,
    ) -> Option<FaultAction> {
        let mut fired_at = None;
        for (i, fault) in self.active.iter_mut().enumerate() {
            let rule = &fault.rule;
            if rule
                .method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                continue;
            }
            if !path_matches(&rule.path_pattern, path) {
                continue;
            }
            if rule.query_param.as_deref().is_some_and(|p| !has_param(p)) {
                continue;
            }
            if let Some(p) = rule.probability {
                if fault.rng.random::<f64>() >= p {
                    continue;
                }
            }
            fault.fired = fault.fired.saturating_add(1);
            fired_at = Some(i);
            break;
        }
        let i = fired_at?;
        let fault = self.active.get(i)?;
        let action = fault.rule.action.clone();
        if fault.rule.times.is_some_and(|n| fault.fired >= n) {
            self.active.remove(i);
        }
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        pattern: &str,
        times: Option<u32>,
        probability: Option<f64>,
        seed: Option<u64>,
    ) -> FaultRule {
        FaultRule {
            method: Some("PUT".into()),
            path_pattern: pattern.into(),
            query_param: None,
            action: FaultAction::Status(503),
            times,
            probability,
            seed,
        }
    }

    #[test]
    fn glob_and_substring_patterns() {
        assert!(path_matches(
            "networkpolicies",
            "/apis/networking.k8s.io/v1/namespaces/a/networkpolicies/x"
        ));
        assert!(path_matches(
            "/apis/*/networkpolicies/*",
            "/apis/networking.k8s.io/v1/namespaces/a/networkpolicies/x"
        ));
        assert!(!path_matches(
            "/apis/*/leases/*",
            "/apis/networking.k8s.io/v1/namespaces/a/networkpolicies/x"
        ));
        assert!(path_matches("*", "/anything"));
        assert!(!path_matches("/api/*/x", "/api/v1/xy"));
        assert!(path_matches("/api/*", "/api/"));
    }

    #[test]
    fn times_limits_the_firings_then_the_rule_is_gone() {
        let mut set = FaultSet::default();
        set.add(rule("/x", Some(2), None, None));
        assert!(
            set.decide("GET", "/x", |_| false).is_none(),
            "method filter"
        );
        assert!(set.decide("PUT", "/x", |_| false).is_some());
        assert!(set.decide("PUT", "/x", |_| false).is_some());
        assert!(set.decide("PUT", "/x", |_| false).is_none());
        assert!(set.rules().is_empty());
    }

    #[test]
    fn seeded_probability_fires_on_the_same_requests_every_time() {
        let run = |seed| {
            let mut set = FaultSet::default();
            set.add(rule("/x", None, Some(0.3), Some(seed)));
            (0..200)
                .map(|_| set.decide("PUT", "/x", |_| false).is_some())
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let fired = a.iter().filter(|f| **f).count();
        assert!((30..=90).contains(&fired), "fired {fired} of 200 at p=0.3");
    }

    #[test]
    fn actions_round_trip_through_json() {
        let r = FaultRule::new("*", FaultAction::Latency(Duration::from_millis(250))).times(1);
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            text.contains(r#""action":{"type":"latency","value":250}"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<FaultRule>(&text).unwrap(), r);
    }
}
