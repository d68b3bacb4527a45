//! The dependency graph of a spec's resources. An edge points from a
//! resource to what it needs (a subnet → its VPC); apply walks it from the
//! leaves up and destroy walks the same edges the other way ("a VPC can't be
//! deleted while it still has subnets"). Talking to providers is the
//! engine's job, not this module's.

use std::collections::BTreeMap;
use std::fmt::Write;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::addr::Address;
use crate::spec::Spec;

/// Resources as graph nodes, edges from dependent to dependency.
pub struct Graph {
    pub graph: DiGraph<Address, ()>,
    pub index: BTreeMap<Address, NodeIndex>,
}

impl Graph {
    pub fn build(spec: &Spec) -> Graph {
        let mut graph = DiGraph::with_capacity(spec.resources.len(), spec.resources.len() * 2);
        // Nodes are added in address order, so the index is built from a
        // sorted sequence (in bulk) and each block's node is its position.
        let index: BTreeMap<Address, NodeIndex> = spec
            .resources
            .keys()
            .map(|addr| (addr.clone(), graph.add_node(addr.clone())))
            .collect();
        for (from, r) in spec.resources.values().enumerate() {
            let from = NodeIndex::new(from);
            for dep in r.dependencies(spec) {
                if let Some(&to) = index.get(&dep) {
                    graph.add_edge(from, to, ());
                }
            }
        }
        Graph { graph, index }
    }

    /// Direct dependencies of a resource, sorted.
    pub fn dependencies(&self, addr: &Address) -> Vec<Address> {
        let Some(&i) = self.index.get(addr) else {
            return Vec::new();
        };
        let mut deps: Vec<Address> = self
            .graph
            .neighbors(i)
            .map(|n| self.graph[n].clone())
            .collect();
        deps.sort();
        deps.dedup();
        deps
    }

    pub fn to_dot(&self) -> String {
        let mut out =
            String::from("digraph meshmon {\n  rankdir = \"RL\";\n  node [shape = box];\n");
        // DOT's quoted IDs escape `"` (instance keys are quoted strings).
        let id = |a: &Address| a.to_string().replace('\\', "\\\\").replace('"', "\\\"");
        for addr in self.index.keys() {
            let _ = writeln!(out, "  \"{}\";", id(addr));
        }
        for (addr, &i) in &self.index {
            for dep in self.dependencies_of(i) {
                let _ = writeln!(out, "  \"{}\" -> \"{}\";", id(addr), id(&dep));
            }
        }
        out.push_str("}\n");
        out
    }

    pub fn to_mermaid(&self) -> String {
        let ids: BTreeMap<&Address, String> = self
            .index
            .keys()
            .enumerate()
            .map(|(n, a)| (a, format!("r{n}")))
            .collect();
        let mut out = String::from("flowchart RL\n");
        for (addr, id) in &ids {
            // Mermaid labels write `"` as an entity.
            let label = addr.to_string().replace('"', "#quot;");
            let _ = writeln!(out, "  {id}[\"{label}\"]");
        }
        for (addr, &i) in &self.index {
            for dep in self.dependencies_of(i) {
                let _ = writeln!(out, "  {} --> {}", ids[addr], ids[&dep]);
            }
        }
        out
    }

    fn dependencies_of(&self, i: NodeIndex) -> Vec<Address> {
        self.dependencies(&self.graph[i])
    }
}

/// Every dependency cycle, each as its addresses in sorted order; cycles are
/// sorted too, so the report is the same on every run.
pub fn cycles(spec: &Spec) -> Vec<Vec<Address>> {
    let g = Graph::build(spec);
    let mut out: Vec<Vec<Address>> = tarjan_scc(&g.graph)
        .into_iter()
        .filter(|scc| scc.len() > 1 || g.graph.contains_edge(scc[0], scc[0]))
        .map(|scc| {
            let mut addrs: Vec<Address> = scc.into_iter().map(|i| g.graph[i].clone()).collect();
            addrs.sort();
            addrs
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use crate::spec::{VarInputs, load_text};

    fn spec(body: &str) -> Spec {
        let dir = std::env::temp_dir();
        let text = format!("[meshmon]\nname = \"t\"\n{body}");
        load_text(
            &dir.join("meshmon.toml"),
            text,
            &dir,
            &VarInputs::default(),
            &Registry::standard(),
        )
        .unwrap_or_else(|d| panic!("{d:?}"))
        .0
    }

    #[test]
    fn references_and_depends_on_are_edges_to_what_is_needed() {
        let s = spec(
            r#"
[resources.null_resource.a]
[resources.null_resource.b]
triggers = { a = "${null_resource.a.id}" }
[resources.null_resource.c]
depends_on = ["null_resource.b", "null_resource.a"]
"#,
        );
        let g = Graph::build(&s);
        let a = |n: &str| Address::resource("null_resource", n);
        assert!(g.dependencies(&a("a")).is_empty());
        assert_eq!(g.dependencies(&a("b")), [a("a")]);
        assert_eq!(g.dependencies(&a("c")), [a("a"), a("b")]);
        assert!(cycles(&s).is_empty());
        let dot = g.to_dot();
        assert!(
            dot.contains("\"null_resource.b\" -> \"null_resource.a\""),
            "{dot}"
        );
    }
}
