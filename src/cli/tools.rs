//! Commands that touch neither state nor providers: `init`, `schema`,
//! `completions`, `man`. Completions and man pages come from the clap
//! definitions in `args.rs`, so they cannot fall behind the flags.

use std::path::Path;

use super::report::Out;
use crate::fsutil::Protected;

use super::{CmdResult, Failure};
use crate::init;
use crate::registry::Registry;

/// `meshmon init`: an example, with the schema its `#:schema` line names.
pub fn init(name: &str, dir: &Path, out: &Out, registry: &Registry) -> CmdResult {
    let example = init::example(name).ok_or_else(|| {
        Failure::Message(
            format!("no example named `{name}`"),
            Some(format!(
                "the examples are: {}",
                init::names().collect::<Vec<_>>().join(", ")
            )),
        )
    })?;
    let schema = crate::schema::spec_schema_text(registry);
    let written = example.write(dir, Some(&schema)).map_err(|e| {
        let hint = match e {
            init::InitError::Exists { .. } => {
                Some("choose an empty directory: meshmon init [--example NAME] DIR".into())
            }
            _ => None,
        };
        Failure::Message(e.to_string(), hint)
    })?;
    let mut text = format!(
        "Wrote the `{}` example ({}) to {}:\n",
        example.name,
        example.about,
        dir.display()
    );
    for f in &written {
        text.push_str(&format!("  {f}\n"));
    }
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("  cd {}\n", dir.display())
    };
    text.push_str(&format!(
        "\nNext:\n{cd}  meshmon validate\n  meshmon plan\n\n\
         Editors that read `#:schema` (taplo, Even Better TOML) complete and check {} against {}.\n",
        init::SPEC_FILE,
        init::SCHEMA_FILE
    ));
    out.print(&text);
    Ok(0)
}

/// `meshmon schema`: the spec's JSON Schema.
pub fn schema(file: Option<&Path>, out: &Out, registry: &Registry) -> CmdResult {
    let text = crate::schema::spec_schema_text(registry);
    match file {
        Some(path) => {
            crate::fsutil::write_report("schema", path, text.as_bytes(), 0o644, &Protected::new())
                .map_err(|e| Failure::Message(e, None))?
        }
        None => out.print(&text),
    }
    Ok(0)
}

/// `meshmon completions SHELL`.
pub fn completions(shell: clap_complete::Shell, out: &Out) -> CmdResult {
    let mut cmd = <super::Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "meshmon", &mut buf);
    out.print(&String::from_utf8_lossy(&buf));
    Ok(0)
}

/// `meshmon man`: the top page on stdout, or every page into a directory.
pub fn man(dir: Option<&Path>, out: &Out) -> CmdResult {
    let cmd = <super::Cli as clap::CommandFactory>::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                Failure::Message(
                    format!("cannot write man pages to {}: {e}", dir.display()),
                    None,
                )
            })?;
            // Each page is written like any report: never through a link
            // planted in DIR, never over one of meshmon's own files.
            for (name, page) in man_pages(cmd)? {
                crate::fsutil::write_report(
                    "man page",
                    &dir.join(name),
                    &page,
                    0o644,
                    &Protected::new(),
                )
                .map_err(|e| Failure::Message(e, None))?;
            }
            out.status(&format!("Wrote the man pages to {}.", dir.display()));
        }
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| Failure::Message(format!("cannot render the man page: {e}"), None))?;
            out.print(&String::from_utf8_lossy(&buf));
        }
    }
    Ok(0)
}

/// Every man page, named as `clap_mangen` names them (`meshmon.1`,
/// `meshmon-plan.1`, …): the subcommands' first, then the command's own.
fn man_pages(cmd: clap::Command) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    fn collect(cmd: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            collect(sub, pages)?;
        }
        let man = clap_mangen::Man::new(cmd);
        let mut page = Vec::new();
        man.render(&mut page)?;
        pages.push((man.get_filename(), page));
        Ok(())
    }
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    collect(cmd, &mut pages)
        .map_err(|e| Failure::Message(format!("cannot render the man pages: {e}"), None))?;
    Ok(pages)
}
