//! Command-line flags as written. The names, flags and exit codes here are
//! a public contract that users' scripts depend on: extend, never rename.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::addr::Address;

#[derive(Debug, Parser)]
#[command(
    name = "meshmon",
    version,
    about = "Plan, apply and watch for drift the monitoring stack of an Envoy service mesh on Amazon EKS",
    after_help = "Exit codes: 0 success; 1 error; 2 changes present (plan --detailed-exitcode) or drift found (drift)."
)]
pub struct Cli {
    /// Run as if meshmon was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Never colour output (NO_COLOR in the environment does the same).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Show the first warning of each kind in full and fold the rest into one
    /// line (the default when standard error is not a terminal).
    #[arg(long, global = true, overrides_with = "no_compact_warnings")]
    pub compact_warnings: bool,

    /// Show every warning in full, even when standard error is not a terminal.
    #[arg(long, global = true, overrides_with = "compact_warnings")]
    pub no_compact_warnings: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the spec is and what its variables are.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// The spec file.
    #[arg(
        short = 'f',
        long = "file",
        default_value = "meshmon.toml",
        value_name = "SPEC"
    )]
    pub file: PathBuf,

    /// Set a variable: --var NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Read variables from a TOML file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

/// Where the state is and how long to wait for its lock.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// The state file (default: [meshmon] state, else state/<name>.json).
    #[arg(long = "state", value_name = "PATH", global = true)]
    pub state: Option<PathBuf>,

    /// Wait this long for another meshmon holding the state lock.
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration, global = true)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// Save the plan to apply it later with `meshmon apply PLANFILE`.
    #[arg(long = "out", value_name = "PLANFILE")]
    pub out: Option<PathBuf>,

    /// Print the plan as one JSON document.
    #[arg(long)]
    pub json: bool,

    /// Exit 2 when the plan has changes, 0 when it has none.
    #[arg(long = "detailed-exitcode")]
    pub detailed_exitcode: bool,

    /// Read resources from the world before planning (--refresh=false skips it).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub refresh: bool,

    /// Only show what changed outside meshmon; apply would record it.
    #[arg(long = "refresh-only")]
    pub refresh_only: bool,

    /// Plan to destroy everything in the state.
    #[arg(long)]
    pub destroy: bool,

    /// Limit the plan to these resources and what they need (repeatable).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<Address>,

    /// Replace these resources even if nothing changed (repeatable).
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<Address>,
}

/// `--parallelism`, on every command that talks to a provider.
#[derive(Debug, Clone, Copy, Args)]
pub struct Concurrency {
    /// How many provider operations (reads included) may run at once (1 to 1024).
    #[arg(long, default_value_t = crate::engine::DEFAULT_PARALLELISM, value_name = "N", value_parser = parallelism)]
    pub parallelism: usize,
}

/// How `plan` and `drift` render a report.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DriftFormat {
    Text,
    Json,
    Markdown,
}

/// What `plan` prints and which reports it also writes.
#[derive(Debug, Clone, Args)]
pub struct PlanOutput {
    /// Print the plan as text, JSON (the same as --json) or Markdown (for a
    /// pull-request comment).
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
    pub format: Option<DriftFormat>,

    #[command(flatten)]
    pub reports: ReportArgs,

    #[command(flatten)]
    pub concurrency: Concurrency,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a spec without contacting anything.
    Validate {
        #[command(flatten)]
        spec: SpecArgs,
        /// Treat warnings as errors (for CI).
        #[arg(long = "deny-warnings")]
        deny_warnings: bool,
    },
    /// Show what apply would change.
    Plan {
        #[command(flatten)]
        plan: PlanArgs,
        #[command(flatten)]
        output: PlanOutput,
    },
    /// Make the world match the spec.
    Apply {
        #[command(flatten)]
        plan: PlanArgs,
        /// Do not ask for confirmation.
        #[arg(long = "auto-approve")]
        auto_approve: bool,
        #[command(flatten)]
        concurrency: Concurrency,
        /// A plan saved with `meshmon plan --out`.
        #[arg(value_name = "PLANFILE")]
        planfile: Option<PathBuf>,
    },
    /// Destroy everything in the state (or the targets and their dependents).
    Destroy {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        state: StateArgs,
        /// Do not ask for confirmation.
        #[arg(long = "auto-approve")]
        auto_approve: bool,
        /// Destroy only these resources and what depends on them.
        #[arg(long = "target", value_name = "ADDR")]
        targets: Vec<Address>,
        #[command(flatten)]
        concurrency: Concurrency,
    },
    /// Report resources changed or deleted outside meshmon (exit 2 on drift).
    Drift {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        state: StateArgs,
        #[arg(long, value_enum, default_value = "text")]
        format: DriftFormat,
        #[command(flatten)]
        reports: ReportArgs,
        #[command(flatten)]
        concurrency: Concurrency,
    },
    /// Print the dependency graph.
    Graph {
        #[command(flatten)]
        spec: SpecArgs,
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// Print outputs recorded in the state. Sensitive outputs print as
    /// `(sensitive)` unless asked for on purpose: `--raw NAME` prints one
    /// output's value as is, `--show-sensitive` reveals them in the other forms.
    Output {
        /// One output's name; prints its value (strings without quotes).
        name: Option<String>,
        /// Print as JSON: one value, or every output with its `sensitive` flag.
        #[arg(long)]
        json: bool,
        /// Print NAME's value as is, even when it is sensitive (for scripts).
        #[arg(long, requires = "name", conflicts_with = "json")]
        raw: bool,
        /// Print sensitive values in the clear instead of `(sensitive)`.
        #[arg(long = "show-sensitive")]
        show_sensitive: bool,
        #[arg(
            short = 'f',
            long = "file",
            default_value = "meshmon.toml",
            value_name = "SPEC"
        )]
        file: PathBuf,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Inspect or edit the state.
    State {
        #[command(subcommand)]
        command: StateCommand,
        #[arg(
            short = 'f',
            long = "file",
            default_value = "meshmon.toml",
            value_name = "SPEC",
            global = true
        )]
        file: PathBuf,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Adopt an existing object into the state.
    Import {
        /// The resource's address in the spec, TYPE.NAME or TYPE.NAME["key"].
        address: Address,
        /// The object's ID as its provider knows it.
        id: String,
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        concurrency: Concurrency,
    },
    /// Print the reference of every resource type (Markdown), from the schemas.
    Docs {
        /// Write to FILE instead of standard output.
        #[arg(long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Start a project: write an example spec with the manifests and dashboards it reads.
    Init {
        /// Which example to write.
        #[arg(long, value_name = "NAME", default_value = crate::init::EXAMPLES[0].name, value_parser = example_names())]
        example: String,
        /// Where to write it (created if missing; existing files are never overwritten).
        #[arg(value_name = "DIR", default_value = ".")]
        path: PathBuf,
    },
    /// Print the JSON Schema of the spec, for editors (taplo, Even Better TOML).
    Schema {
        /// Write to FILE instead of standard output.
        #[arg(long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print a shell completion script (for example: meshmon completions bash > /etc/bash_completion.d/meshmon).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into DIR.
    Man {
        /// Write meshmon.1 and a meshmon-COMMAND.1 per command into DIR.
        #[arg(long = "out", value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Release a state lock left by a process that is gone.
    ForceUnlock {
        /// The lock ID from the "state is locked" error.
        lock_id: String,
        /// Break the lock even though its holder is still running on this
        /// machine (two runs at once may duplicate or orphan objects).
        #[arg(long)]
        force: bool,
        #[arg(
            short = 'f',
            long = "file",
            default_value = "meshmon.toml",
            value_name = "SPEC"
        )]
        file: PathBuf,
        #[command(flatten)]
        state: StateArgs,
    },
}

/// `--parallelism`: at least one operation, and no more than any service
/// would let run at once.
fn parallelism(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number from 1 to 1024")),
    }
}

fn example_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        crate::init::EXAMPLES
            .iter()
            .map(|e| clap::builder::PossibleValue::new(e.name).help(e.about)),
    )
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List resource addresses.
    List,
    /// Show one resource's attributes (secrets masked).
    Show { address: Address },
    /// Forget resources without destroying them.
    Rm {
        #[arg(required = true)]
        addresses: Vec<String>,
    },
    /// Rename a resource in the state.
    Mv { from: Address, to: Address },
}

/// Report files written alongside the output on stdout.
#[derive(Debug, Clone, Default, Args)]
pub struct ReportArgs {
    /// Also write the JSON report to FILE (from the same refresh).
    #[arg(long = "json-out", value_name = "FILE")]
    pub json_out: Option<PathBuf>,

    /// Also write the Markdown report to FILE (from the same refresh).
    #[arg(long = "markdown-out", value_name = "FILE")]
    pub markdown_out: Option<PathBuf>,

    /// Also write a report in FORMAT (text, json or markdown) to FILE (repeatable).
    #[arg(long = "report", value_name = "FORMAT=FILE", value_parser = parse_report)]
    pub reports: Vec<ReportTarget>,
}

/// One `--report FORMAT=FILE`.
#[derive(Debug, Clone)]
pub struct ReportTarget {
    pub format: DriftFormat,
    pub path: PathBuf,
}

fn parse_report(s: &str) -> Result<ReportTarget, String> {
    let (format, path) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not FORMAT=FILE (for example markdown=plan.md)"))?;
    let format = match format {
        "text" => DriftFormat::Text,
        "json" => DriftFormat::Json,
        "markdown" | "md" => DriftFormat::Markdown,
        other => {
            return Err(format!(
                "unknown report format `{other}`: expected text, json or markdown"
            ));
        }
    };
    if path.is_empty() {
        return Err(format!("`{s}` names no file"));
    }
    Ok(ReportTarget {
        format,
        path: PathBuf::from(path),
    })
}
