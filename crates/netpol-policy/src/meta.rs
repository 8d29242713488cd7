//! ObjectMeta rules shared by every kind (names, namespaces, labels, annotations).

use crate::FieldError;

/// DNS-1123 subdomain (object names of most kinds).
pub fn validate_dns_subdomain_name(_name: &str, _field: &str) -> Vec<FieldError> {
    Vec::new()
}
