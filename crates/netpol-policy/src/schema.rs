//! The fields of a networking.k8s.io/v1 NetworkPolicy, as k8s-openapi (v1_33) knows them,
//! for strict field validation. A test in `decode` checks this against k8s-openapi's own
//! round trip so the two cannot drift apart.

/// The shape of a JSON value in the schema.
pub enum Shape {
    /// A scalar, or anything whose members are not checked.
    Leaf,
    /// A list of the given shape.
    List(&'static Shape),
    /// An object with exactly these fields.
    Struct(&'static [(&'static str, Shape)]),
}

const LEAF: Shape = Shape::Leaf;

const OWNER_REFERENCE: Shape = Shape::Struct(&[
    ("apiVersion", LEAF),
    ("blockOwnerDeletion", LEAF),
    ("controller", LEAF),
    ("kind", LEAF),
    ("name", LEAF),
    ("uid", LEAF),
]);

const MANAGED_FIELDS_ENTRY: Shape = Shape::Struct(&[
    ("apiVersion", LEAF),
    ("fieldsType", LEAF),
    // Opaque: any JSON object.
    ("fieldsV1", LEAF),
    ("manager", LEAF),
    ("operation", LEAF),
    ("subresource", LEAF),
    ("time", LEAF),
]);

const OBJECT_META: Shape = Shape::Struct(&[
    // String maps accept any key.
    ("annotations", LEAF),
    ("creationTimestamp", LEAF),
    ("deletionGracePeriodSeconds", LEAF),
    ("deletionTimestamp", LEAF),
    ("finalizers", LEAF),
    ("generateName", LEAF),
    ("generation", LEAF),
    ("labels", LEAF),
    ("managedFields", Shape::List(&MANAGED_FIELDS_ENTRY)),
    ("name", LEAF),
    ("namespace", LEAF),
    ("ownerReferences", Shape::List(&OWNER_REFERENCE)),
    ("resourceVersion", LEAF),
    ("selfLink", LEAF),
    ("uid", LEAF),
]);

const REQUIREMENT: Shape = Shape::Struct(&[("key", LEAF), ("operator", LEAF), ("values", LEAF)]);

const SELECTOR: Shape = Shape::Struct(&[
    ("matchExpressions", Shape::List(&REQUIREMENT)),
    ("matchLabels", LEAF),
]);

const IP_BLOCK: Shape = Shape::Struct(&[("cidr", LEAF), ("except", LEAF)]);

const PEER: Shape = Shape::Struct(&[
    ("ipBlock", IP_BLOCK),
    ("namespaceSelector", SELECTOR),
    ("podSelector", SELECTOR),
]);

const PORT: Shape = Shape::Struct(&[("endPort", LEAF), ("port", LEAF), ("protocol", LEAF)]);

const INGRESS_RULE: Shape =
    Shape::Struct(&[("from", Shape::List(&PEER)), ("ports", Shape::List(&PORT))]);

const EGRESS_RULE: Shape =
    Shape::Struct(&[("ports", Shape::List(&PORT)), ("to", Shape::List(&PEER))]);

const SPEC: Shape = Shape::Struct(&[
    ("egress", Shape::List(&EGRESS_RULE)),
    ("ingress", Shape::List(&INGRESS_RULE)),
    ("podSelector", SELECTOR),
    ("policyTypes", LEAF),
]);

pub const NETWORK_POLICY: Shape = Shape::Struct(&[
    ("apiVersion", LEAF),
    ("kind", LEAF),
    ("metadata", OBJECT_META),
    ("spec", SPEC),
]);
