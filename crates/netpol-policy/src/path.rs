//! field.Path: built on the stack while walking an object and rendered to a string only
//! when an error is reported, so that validating a valid object allocates nothing for paths.

use std::fmt;

#[derive(Clone, Copy)]
pub enum Path<'a> {
    Root(&'a str),
    Child(&'a Path<'a>, &'static str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub fn new(root: &'a str) -> Self {
        Path::Root(root)
    }

    pub fn child(&'a self, name: &'static str) -> Path<'a> {
        Path::Child(self, name)
    }

    pub fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Child(parent, name) => {
                parent.fmt(f)?;
                if !matches!(parent, Path::Root("")) {
                    f.write_str(".")?;
                }
                f.write_str(name)
            }
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_field_path_string() {
        let spec = Path::new("spec");
        let ingress = spec.child("ingress");
        let first = ingress.index(0);
        let ports = first.child("ports");
        let port = ports.index(3);
        let end = port.child("endPort");
        assert_eq!(end.to_string(), "spec.ingress[0].ports[3].endPort");
        let root = Path::new("");
        assert_eq!(root.child("key").to_string(), "key");
    }
}
