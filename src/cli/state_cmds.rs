//! The commands that read or edit the state without planning: `output`
//! and `state list|show|rm|mv`.

use std::path::Path;

use super::args::{StateArgs, StateCommand};
use super::report::{self, Out};
use super::{CmdResult, Failure, store_light};
use crate::engine::commands;
use crate::plan::render;
use crate::registry::Registry;

/// Whether `meshmon output` may print sensitive values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Reveal {
    Masked,
    Secrets,
}

pub(super) async fn output_cmd(
    name: Option<&str>,
    json: bool,
    reveal: Reveal,
    file: &Path,
    args: &StateArgs,
    out: &Out,
) -> CmdResult {
    let store = store_light(file, args).await?;
    let state = commands::read_state(&store, out).await?;
    let shown = |o: &crate::state::OutputState| -> Option<meshmon_provider_sdk::Value> {
        (!o.sensitive || reveal == Reveal::Secrets).then(|| o.value.clone())
    };
    match name {
        Some(n) => {
            let o = state.outputs.get(n).ok_or_else(|| {
                Failure::Message(
                    format!("no output named `{n}` in the state"),
                    Some(
                        "outputs are recorded by `meshmon apply`; `meshmon output` lists them"
                            .into(),
                    ),
                )
            })?;
            let Some(value) = shown(o) else {
                out.print(&format!(
                    "{}\n",
                    if json {
                        serde_json::to_string(crate::secrets::SENSITIVE).expect("json")
                    } else {
                        crate::secrets::SENSITIVE.to_string()
                    }
                ));
                out.status(&format!(
                    "Output `{n}` is sensitive. To print its value on purpose: `meshmon output --raw {n}` (or `--json --show-sensitive`)."
                ));
                return Ok(0);
            };
            if json {
                out.print(&format!(
                    "{}\n",
                    serde_json::to_string(&value).expect("json")
                ));
            } else {
                match &value {
                    meshmon_provider_sdk::Value::String(s) => out.print(&format!("{s}\n")),
                    v => out.print(&format!("{}\n", render::scalar(v))),
                }
            }
        }
        None if json => {
            let map: serde_json::Map<String, serde_json::Value> = state
                .outputs
                .iter()
                .map(|(k, o)| {
                    let value = shown(o).map_or_else(
                        || serde_json::Value::String(crate::secrets::SENSITIVE.into()),
                        serde_json::Value::from,
                    );
                    (
                        k.clone(),
                        serde_json::json!({"value": value, "sensitive": o.sensitive}),
                    )
                })
                .collect();
            out.print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&map).expect("json")
            ));
        }
        None => {
            for (k, o) in &state.outputs {
                let v = shown(o).map_or_else(
                    || crate::secrets::SENSITIVE.to_string(),
                    |v| render::scalar(&v),
                );
                out.print(&format!("{k} = {v}\n"));
            }
        }
    }
    Ok(0)
}

pub(super) async fn state_cmd(
    cmd: StateCommand,
    file: &Path,
    args: &StateArgs,
    out: &Out,
    registry: &Registry,
) -> CmdResult {
    let store = store_light(file, args).await?;
    match cmd {
        StateCommand::List => {
            let state = commands::read_state(&store, out).await?;
            for addr in state.resources.keys() {
                out.print(&format!("{addr}\n"));
            }
            Ok(0)
        }
        StateCommand::Show { address } => {
            let state = commands::read_state(&store, out).await?;
            let r = state.resources.get(&address).ok_or_else(|| {
                Failure::Message(format!("no resource `{address}` in the state"), None)
            })?;
            out.print(&report::show_resource(
                &address,
                r,
                registry.schema(&r.type_name),
            ));
            Ok(0)
        }
        StateCommand::Rm { addresses } => {
            let n = commands::state_rm(&store, &addresses, args.lock_timeout, out).await?;
            out.print(&format!(
                "Removed {n} resource(s) from the state. The objects themselves still exist.\n"
            ));
            Ok(0)
        }
        StateCommand::Mv { from, to } => {
            commands::state_mv(&store, &from, &to, args.lock_timeout, out).await?;
            out.print(&format!("Moved {from} to {to}.\n"));
            Ok(0)
        }
    }
}
