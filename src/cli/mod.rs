//! The commands. Each loads what it needs, calls the engine, renders, and
//! returns an exit code; errors become miette reports here and nowhere else.

mod args;
mod report;
mod reports;
mod state_cmds;
mod tools;
mod warnings;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub use args::{
    Cli, Command, DriftFormat, GraphFormat, PlanArgs, PlanOutput, SpecArgs, StateArgs, StateCommand,
};
pub use args::{ReportArgs, ReportTarget};
use report::{Out, WarningsOnly};
use state_cmds::{Reveal, output_cmd, state_cmd};

use crate::diag::Diagnostics;
use crate::engine::apply::{self, ApplyRequest, Outcome};
use crate::engine::commands::{self, Notices};
use crate::engine::progress::Reporter;
use crate::engine::{Engine, Error};
use crate::plan::file::SavedPlan;
use crate::plan::render;
use crate::plan::{Plan, PlanOptions};
use crate::registry::Registry;
use crate::spec::{self, Spec, VarInputs};
use crate::state::{Loaded, LocalStore, State, StateError, Store};

/// What a command ends with.
enum Failure {
    /// Spec diagnostics, already collected.
    Spec(Diagnostics),
    Engine(Error),
    Message(String, Option<String>),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

impl From<crate::state::StateError> for Failure {
    fn from(e: crate::state::StateError) -> Self {
        Failure::Engine(Error::State(e))
    }
}

type CmdResult = Result<u8, Failure>;

pub fn run(cli: Cli) -> ExitCode {
    let color =
        !cli.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let out = Out::new(color).with_compact_warnings(warnings::compact(
        cli.compact_warnings,
        cli.no_compact_warnings,
        std::io::stderr().is_terminal(),
    ));
    if let Some(dir) = &cli.dir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        out.error_message(&format!("-C {}: {e}", dir.display()), None);
        return ExitCode::from(1);
    }
    let registry = Arc::new(Registry::standard());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The command runs as a task on the runtime's workers, not on this
    // thread: the operations an apply starts are then queued on the worker
    // that starts them, and run there or are taken by the other, instead
    // of each waking a worker from outside. An apply of 100,000 resources
    // took 15 % less time.
    let out = Arc::new(out);
    let command = runtime.spawn({
        let out = out.clone();
        async move { dispatch(cli.command, &out, registry).await }
    });
    let result = joined(runtime.block_on(command));
    // A report that could not be written whole is a failure, whatever the
    // command found: a CI step reading it must not take half of it.
    if let Some(e) = out.stdout_failure()
        && result.is_ok()
    {
        out.error_message(
            &format!("could not write the report to standard output: {e}"),
            Some("run the command again with standard output going somewhere that can take the whole report".into()),
        );
        return ExitCode::from(1);
    }
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Spec(d)) => {
            out.diagnostics(&d);
            ExitCode::from(1)
        }
        Err(Failure::Engine(e)) => {
            let diagnostics = e.diagnostics();
            if diagnostics.is_empty() {
                out.error_message(&e.to_string(), e.hint());
            }
            for (i, d) in diagnostics.into_iter().enumerate() {
                if i > 0 {
                    eprintln!();
                }
                out.error_diag(d);
            }
            ExitCode::from(1)
        }
        Err(Failure::Message(m, hint)) => {
            out.error_message(&m, hint);
            ExitCode::from(1)
        }
    }
}

async fn dispatch(cmd: Command, out: &Out, registry: Arc<Registry>) -> CmdResult {
    match cmd {
        Command::Validate {
            spec,
            deny_warnings,
        } => validate(&spec, deny_warnings, out, &registry),
        Command::Plan { mut plan, output } => {
            // `--format json` is `--json`: status lines stay off stderr too.
            plan.json |= output.format == Some(DriftFormat::Json);
            let format = if plan.json {
                DriftFormat::Json
            } else {
                output.format.unwrap_or(DriftFormat::Text)
            };
            let parallelism = output.concurrency.parallelism;
            plan_cmd(&plan, format, &output.reports, parallelism, out, registry).await
        }
        Command::Apply {
            plan,
            auto_approve,
            concurrency,
            planfile,
        } => {
            apply_cmd(
                &plan,
                auto_approve,
                concurrency.parallelism,
                planfile.as_deref(),
                out,
                registry,
            )
            .await
        }
        Command::Destroy {
            spec,
            state,
            auto_approve,
            targets,
            concurrency,
        } => {
            let args = PlanArgs {
                spec,
                state,
                out: None,
                json: false,
                detailed_exitcode: false,
                refresh: true,
                refresh_only: false,
                destroy: true,
                targets,
                replace: Vec::new(),
            };
            apply_cmd(
                &args,
                auto_approve,
                concurrency.parallelism,
                None,
                out,
                registry,
            )
            .await
        }
        Command::Drift {
            spec,
            state,
            format,
            reports,
            concurrency,
        } => {
            drift_cmd(
                &spec,
                &state,
                format,
                &reports,
                concurrency.parallelism,
                out,
                registry,
            )
            .await
        }
        Command::Docs { out: file } => {
            let text = crate::docs::reference(&registry);
            match file {
                Some(path) => crate::fsutil::write_report(
                    "reference",
                    &path,
                    text.as_bytes(),
                    0o644,
                    &crate::fsutil::Protected::new(),
                )
                .map_err(|e| Failure::Message(e, None))?,
                None => out.print(&text),
            }
            Ok(0)
        }
        Command::Graph { spec, format } => {
            let (s, _) = load_spec(&spec, &registry)?;
            let g = crate::graph::Graph::build(&s);
            out.print(&match format {
                GraphFormat::Dot => g.to_dot(),
                GraphFormat::Mermaid => g.to_mermaid(),
            });
            Ok(0)
        }
        Command::Output {
            name,
            json,
            raw,
            show_sensitive,
            file,
            state,
        } => {
            let reveal = if raw || show_sensitive {
                Reveal::Secrets
            } else {
                Reveal::Masked
            };
            output_cmd(name.as_deref(), json, reveal, &file, &state, out).await
        }
        Command::State {
            command,
            file,
            state,
        } => state_cmd(command, &file, &state, out, &registry).await,
        Command::Import {
            address,
            id,
            spec,
            state,
            concurrency,
        } => {
            import_cmd(
                &address,
                &id,
                &spec,
                &state,
                concurrency.parallelism,
                out,
                registry,
            )
            .await
        }
        Command::Init { example, path } => tools::init(&example, &path, out, &registry),
        Command::Schema { out: file } => tools::schema(file.as_deref(), out, &registry),
        Command::Completions { shell } => tools::completions(shell, out),
        Command::Man { out: dir } => tools::man(dir.as_deref(), out),
        Command::ForceUnlock {
            lock_id,
            force,
            file,
            state,
        } => {
            let store = store_light(&file, &state).await?;
            let info = store.force_unlock(&lock_id, force).await?;
            out.print(&format!(
                "Lock {} released (it was held by {} for `{}` since {}).\n",
                info.id, info.who, info.operation, info.created
            ));
            Ok(0)
        }
    }
}

fn var_inputs(args: &SpecArgs) -> VarInputs {
    VarInputs {
        cli: args.vars.clone(),
        files: args.var_files.clone(),
        ..VarInputs::default()
    }
    .with_process_env()
}

fn load_spec(args: &SpecArgs, registry: &Registry) -> Result<(Spec, Diagnostics), Failure> {
    crate::validate::load_file(&args.file, &var_inputs(args), registry).map_err(Failure::Spec)
}

/// The spec, its store, and the state read from it, for the commands that
/// read the state without locking it (`plan`, `drift`). The state is read
/// while the whole-spec checks run: on a large environment the two take
/// about as long, and neither needs the other. The spec's errors come
/// first, as when one followed the other, without waiting for the read (a
/// remote state may be slow to answer); reading writes nothing, so a read
/// whose spec fails its checks is left to the process's exit.
async fn load_spec_and_state(
    args: &SpecArgs,
    state_args: &StateArgs,
    registry: &Arc<Registry>,
) -> Result<(Spec, Diagnostics, Store, Result<Loaded, StateError>), Failure> {
    let (spec, diags) =
        spec::load_file(&args.file, &var_inputs(args), registry).map_err(Failure::Spec)?;
    let store = store_for(&spec, state_args).await;
    let mut checks = {
        let registry = registry.clone();
        tokio::task::spawn_blocking(move || crate::validate::whole(spec, diags, &registry))
    };
    // Read here rather than in a task: this thread's allocator has the
    // memory the spec's parse just freed.
    let read = {
        let load = store.load();
        tokio::pin!(load);
        let (checked, loaded) = tokio::select! {
            checked = &mut checks => (checked, None),
            loaded = &mut load => (checks.await, Some(loaded)),
        };
        match joined(checked) {
            Err(diags) => Err(diags),
            Ok((spec, warnings)) => {
                let loaded = match loaded {
                    Some(loaded) => loaded,
                    None => load.await,
                };
                Ok((spec, warnings, loaded))
            }
        }
    };
    let (spec, warnings, loaded) = read.map_err(Failure::Spec)?;
    Ok((spec, warnings, store, loaded))
}

/// What a task returned; its panic, carried on.
fn joined<T>(result: Result<T, tokio::task::JoinError>) -> T {
    result.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

fn validate(args: &SpecArgs, deny_warnings: bool, out: &Out, registry: &Registry) -> CmdResult {
    let (_, mut warnings) = load_spec(args, registry)?;
    if deny_warnings && !warnings.items.is_empty() {
        warnings.deny_warnings();
        return Err(Failure::Spec(warnings));
    }
    out.diagnostics(&warnings);
    out.print("The spec is valid.\n");
    Ok(0)
}

/// What a report written by this command must never replace: the spec, its
/// var files, the state's files and a saved plan.
fn protected(spec: &SpecArgs, store: &Store, plan: Option<&Path>) -> crate::fsutil::Protected {
    let mut p = crate::fsutil::Protected::new();
    p.add(&spec.file, "the spec");
    for f in &spec.var_files {
        p.add(f, "a var file");
    }
    for (f, what) in store.own_files() {
        p.add(&f, what);
    }
    if let Some(f) = plan {
        p.add(f, "the saved plan");
    }
    p
}

/// The state for a loaded spec: --state, else where the spec keeps it.
async fn store_for(spec: &Spec, args: &StateArgs) -> Store {
    match &args.state {
        Some(p) => Store::Local(LocalStore::new(p.clone())),
        None => Store::at(spec.state_location()).await,
    }
}

/// The state without a full spec check, for commands that only touch state
/// (a spec whose variables are unset still names its state).
async fn store_light(file: &Path, args: &StateArgs) -> Result<Store, Failure> {
    if let Some(p) = &args.state {
        return Ok(Store::Local(LocalStore::new(p.clone())));
    }
    let location =
        spec::state_location_of(file).map_err(|e| Failure::Message(e.message, e.hint))?;
    Ok(Store::at(location).await)
}

fn options(args: &PlanArgs) -> PlanOptions {
    PlanOptions {
        destroy: args.destroy,
        refresh_only: args.refresh_only,
        targets: args.targets.clone(),
        replace: args.replace.clone(),
    }
}

async fn plan_cmd(
    args: &PlanArgs,
    format: DriftFormat,
    reports: &ReportArgs,
    parallelism: usize,
    out: &Out,
    registry: Arc<Registry>,
) -> CmdResult {
    let (spec, warnings, store, loaded) =
        load_spec_and_state(&args.spec, &args.state, &registry).await?;
    out.diagnostics(&warnings);
    let engine =
        Engine::new(spec, registry.clone(), parallelism).sharing_secrets(out.secrets.clone());
    let notices: &dyn Notices = if format == DriftFormat::Json {
        &WarningsOnly(out)
    } else {
        out
    };
    let plan = commands::plan(
        &engine,
        &store,
        loaded,
        options(args),
        args.refresh,
        args.state.state.is_some(),
        notices,
    )
    .await?;
    let spec = engine.spec();
    let env = spec.name.as_str();
    out.print(&reports::plan(format, &plan, env, &registry, &out.palette));
    let plain = render::Palette::new(false);
    reports
        .write(
            &out.secrets,
            &protected(&args.spec, &store, args.out.as_deref()),
            |f| reports::plan(f, &plan, env, &registry, &plain),
        )
        .map_err(|e| Failure::Message(e, None))?;
    for problem in &plan.preflight {
        out.warning(&format!(
            "{problem}; `meshmon apply` refuses to start until this is fixed"
        ));
    }
    if let Some(path) = &args.out {
        SavedPlan::of(&engine.spec(), &plan)
            .write(path)
            .map_err(|e| Failure::Message(e, None))?;
        if format == DriftFormat::Text {
            out.print(&format!(
                "\nSaved the plan to {0}. Apply exactly this plan with: meshmon apply {0}\n",
                path.display()
            ));
        }
    }
    let code = if args.detailed_exitcode && plan.has_changes() {
        2
    } else {
        0
    };
    left_to_exit(plan);
    left_to_exit(spec);
    Ok(code)
}

/// Plain data a command has finished with (a plan with its state, a
/// spec), left for the process's exit to reclaim: freeing 100,000 records
/// one allocation at a time takes a tenth of a large plan's run, and
/// nothing is waiting for that memory. Only for values whose drop does
/// nothing but free memory.
fn left_to_exit<T>(done: T) {
    std::mem::forget(done);
}

/// A saved plan fixes the spec, the variables and the options; a flag that
/// would change them is an error rather than silently ignored.
fn refuse_flags_beside_plan(args: &PlanArgs) -> Result<(), Failure> {
    let mut given = Vec::new();
    if !args.spec.vars.is_empty() {
        given.push("--var");
    }
    if !args.spec.var_files.is_empty() {
        given.push("--var-file");
    }
    if args.spec.file != Path::new("meshmon.toml") {
        given.push("-f/--file");
    }
    if args.out.is_some() {
        given.push("--out");
    }
    if args.json {
        given.push("--json");
    }
    if args.detailed_exitcode {
        given.push("--detailed-exitcode");
    }
    if !args.refresh {
        given.push("--refresh=false");
    }
    if args.refresh_only {
        given.push("--refresh-only");
    }
    if args.destroy {
        given.push("--destroy");
    }
    if !args.targets.is_empty() {
        given.push("--target");
    }
    if !args.replace.is_empty() {
        given.push("--replace");
    }
    if given.is_empty() {
        return Ok(());
    }
    Err(Failure::Message(
        format!(
            "{} cannot be used with a saved plan: the plan file already fixes the spec, its variables and the plan's options",
            given.join(", ")
        ),
        Some("apply the plan as it is, or make a new one with these flags: `meshmon plan … --out FILE`".into()),
    ))
}

fn confirm(out: &Out, what: &str) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Refused {
            message: format!("{what} needs confirmation, but standard input is not a terminal"),
            hint:
                "review the plan, then run again with --auto-approve (or apply a saved plan file)"
                    .into(),
        });
    }
    out.print(&format!(
        "\nDo you want to {what}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    ));
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::Refused {
            message: format!("cannot read the answer: {e}"),
            hint: "nothing was changed".into(),
        })?;
    if answer.trim() != "yes" {
        return Err(Error::Refused {
            message: format!("{what} cancelled"),
            hint: "nothing was changed".into(),
        });
    }
    Ok(())
}

async fn apply_cmd(
    args: &PlanArgs,
    auto_approve: bool,
    parallelism: usize,
    planfile: Option<&Path>,
    out: &Out,
    registry: Arc<Registry>,
) -> CmdResult {
    if planfile.is_some() {
        refuse_flags_beside_plan(args)?;
    }
    let saved = planfile
        .map(SavedPlan::read)
        .transpose()
        .map_err(|e| Failure::Message(e, None))?;
    let (spec, warnings) = match &saved {
        Some(s) => {
            let inputs = VarInputs {
                values: s.variables.clone(),
                pinned_files: Some(s.files.clone()),
                ..VarInputs::default()
            };
            crate::validate::load_text(
                &s.spec_path,
                s.spec_text.clone(),
                &s.base_dir,
                &inputs,
                &registry,
            )
            .map_err(Failure::Spec)?
        }
        None => load_spec(&args.spec, &registry)?,
    };
    out.diagnostics(&warnings);
    let store = store_for(&spec, &args.state).await;
    let engine =
        Engine::new(spec, registry.clone(), parallelism).sharing_secrets(out.secrets.clone());
    let request = ApplyRequest {
        options: saved
            .as_ref()
            .map_or_else(|| options(args), SavedPlan::options),
        refresh: args.refresh,
        saved: saved.as_ref(),
        lock_timeout: args.state.lock_timeout,
    };
    let driver = CliDriver {
        out,
        registry: &registry,
        auto_approve,
    };
    let outcome = apply::apply(&engine, &store, request, &driver).await?;
    match &outcome {
        Outcome::Refreshed { recorded } => {
            if *recorded {
                out.print("\nThe state now matches the real world.\n");
            }
        }
        Outcome::NoChanges { state } => print_outputs(state, out),
        Outcome::Applied {
            state,
            totals,
            elapsed,
            destroy,
        } => {
            let elapsed = elapsed.as_secs_f64();
            if *destroy {
                out.print(&format!(
                    "\n{} Resources: {} destroyed. ({elapsed:.1}s)\n",
                    out.palette.green.apply_to("Destroy complete!"),
                    totals.destroyed,
                ));
            } else {
                out.print(&format!(
                    "\n{} Resources: {} added, {} changed, {} destroyed. ({elapsed:.1}s)\n",
                    out.palette.green.apply_to("Apply complete!"),
                    totals.added,
                    totals.changed,
                    totals.destroyed,
                ));
            }
            if let Some(line) = render::throttling_line(&registry.throttling()) {
                out.print(&format!("{line}\n"));
            }
            print_outputs(state, out);
        }
    }
    left_to_exit(outcome);
    left_to_exit(engine.spec());
    Ok(0)
}

/// How the engine's apply talks to a terminal or a CI log.
struct CliDriver<'a> {
    out: &'a Out,
    registry: &'a Registry,
    auto_approve: bool,
}

impl Notices for CliDriver<'_> {
    fn status(&self, text: &str) {
        self.out.status(text);
    }

    fn warning(&self, text: &str) {
        self.out.warning(text);
    }
}

impl apply::Driver for CliDriver<'_> {
    fn show_plan(&self, plan: &Plan) {
        self.out
            .print(&render::plan(plan, self.registry, &self.out.palette));
    }

    fn confirm(&self, what: &str) -> Result<(), Error> {
        if self.auto_approve {
            return Ok(());
        }
        confirm(self.out, what)
    }

    fn walk_starts(&self) {
        self.out.print("\n");
    }

    fn reporter(&self) -> Arc<Reporter> {
        Arc::new(
            Reporter::new(std::io::stderr().is_terminal(), self.out.palette.clone())
                .masking(self.out.secrets.clone()),
        )
    }
}

fn print_outputs(state: &State, out: &Out) {
    if state.outputs.is_empty() {
        return;
    }
    let mut text = String::from("\nOutputs:\n\n");
    for (name, o) in &state.outputs {
        let v = if o.sensitive {
            crate::secrets::SENSITIVE.to_string()
        } else {
            render::scalar(&o.value)
        };
        text.push_str(&format!("{name} = {v}\n"));
    }
    out.print(&text);
}

async fn drift_cmd(
    args: &SpecArgs,
    state_args: &StateArgs,
    format: DriftFormat,
    reports: &ReportArgs,
    parallelism: usize,
    out: &Out,
    registry: Arc<Registry>,
) -> CmdResult {
    let (spec, warnings, store, loaded) = load_spec_and_state(args, state_args, &registry).await?;
    out.diagnostics(&warnings);
    let env = spec.name.clone();
    let engine =
        Engine::new(spec, registry.clone(), parallelism).sharing_secrets(out.secrets.clone());
    let notices: &dyn Notices = if format == DriftFormat::Json {
        &WarningsOnly(out)
    } else {
        out
    };
    let commands::DriftReport {
        drift,
        checked: count,
    } = commands::drift(&engine, &store, loaded, notices).await?;
    let throttling = registry.throttling();
    out.print(&reports::drift(
        format,
        &drift,
        count,
        &env,
        &throttling,
        &out.palette,
    ));
    let plain = render::Palette::new(false);
    reports
        .write(&out.secrets, &protected(args, &store, None), |f| {
            reports::drift(f, &drift, count, &env, &throttling, &plain)
        })
        .map_err(|e| Failure::Message(e, None))?;
    Ok(if drift.is_empty() { 0 } else { 2 })
}

async fn import_cmd(
    address: &crate::addr::Address,
    id: &str,
    args: &SpecArgs,
    state_args: &StateArgs,
    parallelism: usize,
    out: &Out,
    registry: Arc<Registry>,
) -> CmdResult {
    let (spec, warnings) = load_spec(args, &registry)?;
    out.diagnostics(&warnings);
    let store = store_for(&spec, state_args).await;
    let engine = Engine::new(spec, registry, parallelism).sharing_secrets(out.secrets.clone());
    commands::import(&engine, &store, address, id, state_args.lock_timeout, out).await?;
    out.print(&format!(
        "Imported {address} (ID {id}). Run `meshmon plan` to see how it compares with the spec.\n"
    ));
    Ok(0)
}
