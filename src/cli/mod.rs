//! The commands. Each loads what it needs, calls the engine, renders, and
//! returns an exit code; errors become miette reports here and nowhere else.

mod args;
mod report;
mod reports;
mod tools;
mod warnings;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub use args::{
    Cli, Command, DriftFormat, GraphFormat, PlanArgs, PlanOutput, SpecArgs, StateArgs, StateCommand,
};
use report::Out;
pub use reports::{ReportArgs, ReportTarget};

use crate::diag::Diagnostics;
use crate::engine::progress::Reporter;
use crate::engine::{Engine, Error, walk};
use crate::plan::file::{PLAN_FORMAT, SavedPlan};
use crate::plan::render;
use crate::plan::{Action, Plan, PlanOptions};
use crate::registry::Registry;
use crate::spec::{self, Spec, VarInputs};
use crate::state::{LocalStore, S3Config, State, Store};

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
    let result = runtime.block_on(dispatch(cli.command, &out, registry));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Spec(d)) => {
            out.diagnostics(&d);
            ExitCode::from(1)
        }
        Err(Failure::Engine(e)) => {
            out.error_message(&e.to_string(), e.hint());
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
            plan_cmd(&plan, format, &output.reports, out, registry).await
        }
        Command::Apply {
            plan,
            auto_approve,
            parallelism,
            planfile,
        } => {
            apply_cmd(
                &plan,
                auto_approve,
                parallelism,
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
            parallelism,
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
            apply_cmd(&args, auto_approve, parallelism, None, out, registry).await
        }
        Command::Drift {
            spec,
            state,
            format,
            reports,
        } => drift_cmd(&spec, &state, format, &reports, out, registry).await,
        Command::Docs { out: file } => {
            let text = crate::docs::reference(&registry);
            match file {
                Some(path) => {
                    crate::fsutil::write_replace(&path, text.as_bytes(), 0o644).map_err(|e| {
                        Failure::Message(format!("cannot write {}: {e}", path.display()), None)
                    })?
                }
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
        } => import_cmd(&address, &id, &spec, &state, out, registry).await,
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

/// Loads the state, saying out loud what recovery found (a damaged journal).
async fn load_state(store: &Store, out: &Out) -> Result<(State, bool), Failure> {
    let loaded = store.load().await?;
    for notice in &loaded.notices {
        out.warning(notice);
    }
    Ok((loaded.state, loaded.replayed))
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
    spec::load_file(&args.file, &var_inputs(args), registry).map_err(Failure::Spec)
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

/// The state for a loaded spec: --state, else [meshmon] backend, else
/// [meshmon] state, else state/<name>.json in the working directory.
async fn store_for(spec: &Spec, args: &StateArgs) -> Store {
    if let Some(p) = &args.state {
        return Store::Local(LocalStore::new(p.clone()));
    }
    if let Some(b) = &spec.backend {
        return Store::s3(b.clone()).await;
    }
    if let Some(p) = &spec.state_path {
        return Store::Local(LocalStore::new(p));
    }
    Store::Local(LocalStore::new(
        PathBuf::from("state").join(format!("{}.json", spec.name)),
    ))
}

/// The state without a full spec check, for commands that only touch state
/// (a spec whose variables are unset still names its state).
async fn store_light(file: &Path, args: &StateArgs) -> Result<Store, Failure> {
    if let Some(p) = &args.state {
        return Ok(Store::Local(LocalStore::new(p.clone())));
    }
    let text = crate::fsutil::read_text(file).map_err(|e| {
        Failure::Message(
            format!("cannot read spec {}: {e}", file.display()),
            Some("pass --state PATH, or -f SPEC to find the state through the spec".into()),
        )
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        Failure::Message(
            format!("{} is not valid TOML: {}", file.display(), e.message()),
            None,
        )
    })?;
    let meshmon = table.get("meshmon").and_then(|m| m.as_table());
    if let Some(backend) = meshmon.and_then(|m| m.get("backend")) {
        let config =
            S3Config::from_backend(&spec::toml_to_value(backend.clone())).map_err(|e| {
                Failure::Message(format!("{}: invalid backend: {e}", file.display()), None)
            })?;
        return Ok(Store::s3(config).await);
    }
    if let Some(p) = meshmon
        .and_then(|m| m.get("state"))
        .and_then(|v| v.as_str())
    {
        return Ok(Store::Local(LocalStore::new(p)));
    }
    let name = meshmon
        .and_then(|m| m.get("name"))
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            Failure::Message(format!("{} has no [meshmon] name", file.display()), None)
        })?;
    Ok(Store::Local(LocalStore::new(
        PathBuf::from("state").join(format!("{name}.json")),
    )))
}

fn options(args: &PlanArgs) -> PlanOptions {
    PlanOptions {
        destroy: args.destroy,
        refresh_only: args.refresh_only,
        targets: args.targets.clone(),
        replace: args.replace.clone(),
    }
}

/// Refreshes (unless told not to) and plans.
async fn make_plan(
    engine: &Engine,
    state: State,
    args: &PlanArgs,
    out: &Out,
) -> Result<Plan, Failure> {
    engine.configure_known(&state).await;
    let (prior, drift) = if args.refresh && !state.resources.is_empty() {
        if !args.json {
            out.status(&format!(
                "Refreshing {} resource(s)...",
                state.resources.len()
            ));
        }
        engine.refresh(&state).await?
    } else {
        (state, Vec::new())
    };
    let plan = engine.plan(prior, drift, options(args)).await?;
    check_prevent_destroy(engine, &plan)?;
    Ok(plan)
}

fn check_prevent_destroy(engine: &Engine, plan: &Plan) -> Result<(), Failure> {
    for c in &plan.changes {
        if matches!(c.action, Action::Delete | Action::Replace)
            && engine
                .spec
                .resources
                .get(&c.address)
                .is_some_and(|b| b.lifecycle.prevent_destroy)
        {
            return Err(Failure::Engine(Error::PreventDestroy {
                address: c.address.clone(),
            }));
        }
    }
    Ok(())
}

async fn plan_cmd(
    args: &PlanArgs,
    format: DriftFormat,
    reports: &ReportArgs,
    out: &Out,
    registry: Arc<Registry>,
) -> CmdResult {
    let (spec, warnings) = load_spec(&args.spec, &registry)?;
    out.diagnostics(&warnings);
    let store = store_for(&spec, &args.state).await;
    let (state, _) = load_state(&store, out).await?;
    let engine = Engine::new(spec, registry.clone(), 10);
    let plan = make_plan(&engine, state, args, out).await?;
    let env = engine.spec.name.as_str();
    out.print(&reports::plan(format, &plan, env, &registry, &out.palette));
    let plain = render::Palette::new(false);
    reports
        .write(|f| reports::plan(f, &plan, env, &registry, &plain))
        .map_err(|e| Failure::Message(e, None))?;
    for problem in &plan.preflight {
        out.warning(&format!(
            "{problem}; `meshmon apply` refuses to start until this is fixed"
        ));
    }
    if let Some(path) = &args.out {
        let saved = saved_plan(&engine, &plan, args);
        saved.write(path).map_err(|e| Failure::Message(e, None))?;
        if format == DriftFormat::Text {
            out.print(&format!(
                "\nSaved the plan to {0}. Apply exactly this plan with: meshmon apply {0}\n",
                path.display()
            ));
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        2
    } else {
        0
    })
}

fn saved_plan(engine: &Engine, plan: &Plan, args: &PlanArgs) -> SavedPlan {
    SavedPlan {
        format_version: PLAN_FORMAT,
        meshmon_version: env!("CARGO_PKG_VERSION").to_string(),
        lineage: plan.prior.lineage.clone(),
        serial: plan.prior.serial,
        spec_path: engine.spec.path.clone(),
        base_dir: engine.spec.base_dir.clone(),
        spec_text: engine.spec.text.to_string(),
        variables: engine
            .spec
            .variables
            .values()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect(),
        destroy: args.destroy,
        refresh_only: args.refresh_only,
        targets: args.targets.clone(),
        replace: args.replace.clone(),
        prior: plan.prior.clone(),
        actions: plan.fingerprint(),
    }
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

fn confirm(out: &Out, what: &str) -> Result<(), Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Message(
            format!("{what} needs confirmation, but standard input is not a terminal"),
            Some(
                "review the plan, then run again with --auto-approve (or apply a saved plan file)"
                    .into(),
            ),
        ));
    }
    out.print(&format!(
        "\nDo you want to {what}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    ));
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::Message(format!("cannot read the answer: {e}"), None))?;
    if answer.trim() != "yes" {
        return Err(Failure::Message(format!("{what} cancelled"), None));
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
                ..VarInputs::default()
            };
            spec::load_text(
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
    let operation = if args.destroy || saved.as_ref().is_some_and(|s| s.destroy) {
        "destroy"
    } else {
        "apply"
    };
    let lock = store.lock(operation, args.state.lock_timeout).await?;
    let result = apply_locked(
        &store,
        spec,
        saved.as_ref(),
        args,
        auto_approve,
        parallelism,
        out,
        registry,
    )
    .await;
    store.unlock(lock).await?;
    result
}

#[allow(clippy::too_many_arguments)]
async fn apply_locked(
    store: &Store,
    spec: Spec,
    saved: Option<&SavedPlan>,
    args: &PlanArgs,
    auto_approve: bool,
    parallelism: usize,
    out: &Out,
    registry: Arc<Registry>,
) -> CmdResult {
    let (mut state, replayed) = load_state(store, out).await?;
    if replayed {
        store.persist(&mut state).await?;
        out.status(
            "Recovered the operations an interrupted run had completed; continuing from there.",
        );
    }
    let engine = Engine::new(spec, registry.clone(), parallelism);
    let plan = match &saved {
        Some(s) => {
            // Serial 0 means no state was ever written: the plan's lineage
            // becomes this environment's.
            if s.serial == 0 && state.serial == 0 {
                state.lineage = s.lineage.clone();
            }
            if s.lineage != state.lineage || s.serial != state.serial {
                return Err(Failure::Message(
                    format!(
                        "the saved plan is stale: it was made against state serial {} but the state is now at serial {}{}",
                        s.serial,
                        state.serial,
                        if s.lineage != state.lineage {
                            " of another lineage"
                        } else {
                            ""
                        }
                    ),
                    Some("run `meshmon plan --out FILE` again and apply the new plan".into()),
                ));
            }
            engine.configure_known(&s.prior).await;
            let plan = engine
                .plan(s.prior.clone(), Vec::new(), s.options())
                .await?;
            if plan.fingerprint() != s.actions {
                return Err(Failure::Message(
                    "the saved plan no longer matches: planning again from it gives different actions".into(),
                    Some("files it reads may have changed; run `meshmon plan --out FILE` again".into()),
                ));
            }
            check_prevent_destroy(&engine, &plan)?;
            plan
        }
        None => make_plan(&engine, state, args, out).await?,
    };
    out.print(&render::plan(&plan, &registry, &out.palette));

    if !plan.preflight.is_empty() && !plan.options.refresh_only {
        return Err(Failure::Message(
            format!(
                "this machine cannot apply the plan: {}",
                plan.preflight.join("; ")
            ),
            Some("nothing was changed; fix the above and run apply again".into()),
        ));
    }

    if plan.options.refresh_only {
        if !plan.drift.is_empty() {
            if !auto_approve && saved.is_none() {
                confirm(out, "update the state to match the real world")?;
            }
            let mut refreshed = plan.prior.clone();
            store.persist(&mut refreshed).await?;
            out.print("\nThe state now matches the real world.\n");
        }
        return Ok(0);
    }

    if !plan.has_changes() {
        let mut next = plan.prior.clone();
        let outputs: std::collections::BTreeMap<_, _> = plan
            .outputs
            .iter()
            .filter(|(_, (v, _))| !v.contains_unknown())
            .map(|(k, (v, s))| {
                (
                    k.clone(),
                    crate::state::OutputState {
                        value: v.clone(),
                        sensitive: *s,
                    },
                )
            })
            .collect();
        let outputs_changed = !plan.options.destroy && outputs != next.outputs;
        if !plan.drift.is_empty() || outputs_changed {
            if !plan.options.destroy {
                next.outputs = outputs;
            }
            store.persist(&mut next).await?;
        }
        print_outputs(&next, out);
        return Ok(0);
    }
    if !auto_approve && saved.is_none() {
        let what = if plan.options.destroy {
            "destroy these resources"
        } else {
            "perform these actions"
        };
        confirm(out, what)?;
    }
    out.print("\n");
    let reporter = Arc::new(Reporter::new(
        std::io::stderr().is_terminal(),
        out.palette.clone(),
    ));
    let mut journal = store.journal(&plan.prior)?;
    let started = std::time::Instant::now();
    let (mut final_state, totals, error) = walk::apply(
        &engine,
        &plan,
        plan.prior.clone(),
        &mut journal,
        reporter.clone(),
    )
    .await;
    reporter.close();
    journal.finish()?;
    store.persist(&mut final_state).await?;
    if let Some(e) = error {
        return Err(Failure::Engine(e));
    }
    let elapsed = started.elapsed().as_secs_f64();
    if plan.options.destroy {
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
    print_outputs(&final_state, out);
    Ok(0)
}

fn print_outputs(state: &State, out: &Out) {
    if state.outputs.is_empty() {
        return;
    }
    let mut text = String::from("\nOutputs:\n\n");
    for (name, o) in &state.outputs {
        let v = if o.sensitive {
            render::SENSITIVE.to_string()
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
    out: &Out,
    registry: Arc<Registry>,
) -> CmdResult {
    let (spec, warnings) = load_spec(args, &registry)?;
    out.diagnostics(&warnings);
    let store = store_for(&spec, state_args).await;
    let (state, _) = load_state(&store, out).await?;
    let env = spec.name.clone();
    let engine = Engine::new(spec, registry.clone(), 10);
    engine.configure_known(&state).await;
    let (_, drift) = engine.refresh(&state).await?;
    let count = state.resources.len();
    out.print(&reports::drift(format, &drift, count, &env, &out.palette));
    let plain = render::Palette::new(false);
    reports
        .write(|f| reports::drift(f, &drift, count, &env, &plain))
        .map_err(|e| Failure::Message(e, None))?;
    Ok(if drift.is_empty() { 0 } else { 2 })
}

/// Whether `meshmon output` may print sensitive values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reveal {
    Masked,
    Secrets,
}

async fn output_cmd(
    name: Option<&str>,
    json: bool,
    reveal: Reveal,
    file: &Path,
    args: &StateArgs,
    out: &Out,
) -> CmdResult {
    let store = store_light(file, args).await?;
    let (state, _) = load_state(&store, out).await?;
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
                        serde_json::to_string(render::SENSITIVE).expect("json")
                    } else {
                        render::SENSITIVE.to_string()
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
                        || serde_json::Value::String(render::SENSITIVE.into()),
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
                let v =
                    shown(o).map_or_else(|| render::SENSITIVE.to_string(), |v| render::scalar(&v));
                out.print(&format!("{k} = {v}\n"));
            }
        }
    }
    Ok(0)
}

async fn state_cmd(
    cmd: StateCommand,
    file: &Path,
    args: &StateArgs,
    out: &Out,
    registry: &Registry,
) -> CmdResult {
    let store = store_light(file, args).await?;
    match cmd {
        StateCommand::List => {
            let (state, _) = load_state(&store, out).await?;
            for addr in state.resources.keys() {
                out.print(&format!("{addr}\n"));
            }
            Ok(0)
        }
        StateCommand::Show { address } => {
            let (state, _) = load_state(&store, out).await?;
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
            let lock = store.lock("state rm", args.lock_timeout).await?;
            let result: CmdResult = async {
                let (mut state, _) = load_state(&store, out).await?;
                for a in &addresses {
                    if state.resources.remove(a).is_none() {
                        return Err(Failure::Message(
                            format!("no resource `{a}` in the state; nothing was removed"),
                            None,
                        ));
                    }
                }
                store.persist(&mut state).await?;
                out.print(&format!(
                    "Removed {} resource(s) from the state. The objects themselves still exist.\n",
                    addresses.len()
                ));
                Ok(0)
            }
            .await;
            store.unlock(lock).await?;
            result
        }
        StateCommand::Mv { from, to } => {
            let lock = store.lock("state mv", args.lock_timeout).await?;
            let result: CmdResult = async {
                let (mut state, _) = load_state(&store, out).await?;
                let (to_type, to_name) = to
                    .split_once('.')
                    .filter(|(t, n)| spec::valid_name(t) && spec::valid_name(n))
                    .ok_or_else(|| {
                        Failure::Message(
                            format!("`{to}` is not an address: expected TYPE.NAME"),
                            None,
                        )
                    })?;
                let _ = to_name;
                if state.resources.contains_key(&to) {
                    return Err(Failure::Message(
                        format!("`{to}` is already in the state"),
                        None,
                    ));
                }
                let r = state.resources.remove(&from).ok_or_else(|| {
                    Failure::Message(format!("no resource `{from}` in the state"), None)
                })?;
                if r.type_name != to_type {
                    return Err(Failure::Message(
                        format!(
                            "cannot move a `{}` to `{to}`: the type must stay the same",
                            r.type_name
                        ),
                        None,
                    ));
                }
                state.resources.insert(to.clone(), r);
                for other in state.resources.values_mut() {
                    for d in other.dependencies.iter_mut() {
                        if *d == from {
                            *d = to.clone();
                        }
                    }
                }
                store.persist(&mut state).await?;
                out.print(&format!("Moved {from} to {to}.\n"));
                Ok(0)
            }
            .await;
            store.unlock(lock).await?;
            result
        }
    }
}

async fn import_cmd(
    address: &str,
    id: &str,
    args: &SpecArgs,
    state_args: &StateArgs,
    out: &Out,
    registry: Arc<Registry>,
) -> CmdResult {
    let (spec, warnings) = load_spec(args, &registry)?;
    out.diagnostics(&warnings);
    let store = store_for(&spec, state_args).await;
    let lock = store.lock("import", state_args.lock_timeout).await?;
    let result: Result<(), Failure> = async {
        let (mut state, _) = load_state(&store, out).await?;
        let engine = Engine::new(spec, registry, 10);
        let imported = engine.import(&state, address, id).await?;
        state.resources.insert(address.to_string(), imported);
        store.persist(&mut state).await?;
        Ok(())
    }
    .await;
    store.unlock(lock).await?;
    result?;
    out.print(&format!(
        "Imported {address} (ID {id}). Run `meshmon plan` to see how it compares with the spec.\n"
    ));
    Ok(0)
}
