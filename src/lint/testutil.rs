//! Test fixtures: policy files read as check reads them (the bundle YAML loader, strict
//! decoding, the apiserver's defaults), bundles, workloads, then [`lint`].

use super::{lint, Finding, LintInput, LintPolicy};
use crate::bundle::{yaml, Limits};
use crate::reach::workloads::Workloads;
use netpol_policy::NetworkPolicy;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
pub(crate) struct Fixture {
    /// (bundle, file, text)
    files: Vec<(String, String, String)>,
    /// (index in files, document, policy)
    policies: Vec<(usize, usize, NetworkPolicy)>,
    governed: BTreeSet<String>,
    governed_by: BTreeMap<String, String>,
    ignored: BTreeMap<String, BTreeSet<String>>,
    manifests: BTreeMap<String, (String, String)>,
    workloads: Option<Workloads>,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        Fixture::default()
    }

    /// A policy file of `bundle`; its namespaces become governed by the bundle.
    pub(crate) fn file(mut self, bundle: &str, path: &str, text: &str) -> Fixture {
        let docs = yaml::load_documents(text.as_bytes(), Limits::default().file_yaml())
            .expect("fixture parses");
        let index = self.files.len();
        self.files
            .push((bundle.to_string(), path.to_string(), text.to_string()));
        for d in docs.into_iter().filter(|d| !d.value.is_null()) {
            let mut np = netpol_policy::decode_strict(d.value).expect("fixture decodes");
            assert!(
                netpol_policy::validate_create(&np).is_empty(),
                "fixture valid"
            );
            netpol_policy::apply_defaults(&mut np);
            let ns = np.metadata.namespace.clone().expect("fixture namespace");
            self.governed.insert(ns.clone());
            self.governed_by.insert(ns, bundle.to_string());
            self.policies.push((index, d.index, np));
        }
        self
    }

    /// A bundle.yaml for `bundle` at `bundles/<bundle>/bundle.yaml`; its `namespaces`
    /// become governed by the bundle.
    pub(crate) fn manifest(mut self, bundle: &str, text: &str) -> Fixture {
        let docs = yaml::load_documents(text.as_bytes(), Limits::default().file_yaml())
            .expect("manifest parses");
        for ns in docs[0].value["namespaces"].as_array().expect("namespaces") {
            let ns = ns.as_str().expect("a name").to_string();
            self.governed.insert(ns.clone());
            self.governed_by.insert(ns, bundle.to_string());
        }
        self.manifests.insert(
            bundle.to_string(),
            (format!("bundles/{bundle}/bundle.yaml"), text.to_string()),
        );
        self
    }

    /// A governed namespace with no policy and no manifest text.
    pub(crate) fn governs(mut self, bundle: &str, ns: &str) -> Fixture {
        self.governed.insert(ns.to_string());
        self.governed_by.insert(ns.to_string(), bundle.to_string());
        self
    }

    pub(crate) fn ignore(mut self, bundle: &str, rule: &str) -> Fixture {
        self.ignored
            .entry(bundle.to_string())
            .or_default()
            .insert(rule.to_string());
        self
    }

    /// Workloads YAML as `netpol-sync reach --workloads` reads it.
    pub(crate) fn workloads(mut self, text: &str) -> Fixture {
        let docs = yaml::load_documents(text.as_bytes(), Limits::default().file_yaml())
            .expect("workloads parse");
        let mut w = Workloads::default();
        for d in docs.iter().filter(|d| !d.value.is_null()) {
            w.add("workloads.yaml", d.index, &d.value)
                .expect("workloads read");
        }
        self.workloads = Some(w);
        self
    }

    pub(crate) fn run(&self) -> Vec<Finding> {
        let policies: Vec<LintPolicy<'_>> = self
            .policies
            .iter()
            .map(|(file, document, policy)| {
                let (bundle, path, text) = &self.files[*file];
                LintPolicy {
                    bundle,
                    file: path,
                    text,
                    document: *document,
                    policy,
                }
            })
            .collect();
        let input = LintInput {
            policies: &policies,
            governed: &self.governed,
            governed_by: &self.governed_by,
            workloads: self.workloads.as_ref(),
            ignored_by_bundle: &self.ignored,
            manifest_texts: (!self.manifests.is_empty()).then_some(&self.manifests),
        };
        lint(&input)
    }
}

/// The findings of one rule, as (file, line).
pub(crate) fn lines_of(findings: &[Finding], rule: &str) -> Vec<(String, usize)> {
    findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| (f.location.file.clone(), f.location.line))
        .collect()
}
