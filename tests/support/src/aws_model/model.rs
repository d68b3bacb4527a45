//! The botocore service models: where they are, which API version is
//! used, and their shapes as typed values. A model is read once per
//! process and shared.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;

/// One service's API model (`service-2.json`).
#[derive(Debug, Deserialize)]
pub struct Model {
    pub metadata: Metadata,
    pub operations: BTreeMap<String, Operation>,
    pub shapes: BTreeMap<String, Shape>,
    /// The botocore directory name (`amp` for the signing name `aps`).
    #[serde(skip)]
    pub service: String,
    /// The API version directory the model was read from.
    #[serde(skip)]
    pub version: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub protocol: String,
    #[serde(default)]
    pub protocols: Vec<String>,
    pub api_version: String,
    pub target_prefix: Option<String>,
    pub json_version: Option<String>,
    pub xml_namespace: Option<String>,
    /// How the service writes timestamps in bodies, where not the
    /// protocol's default.
    pub timestamp_format: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Operation {
    pub name: String,
    pub http: Http,
    pub input: Option<ShapeRef>,
    /// Kept for old clients; a newer operation has the same request.
    #[serde(default)]
    pub deprecated: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Http {
    pub method: String,
    pub request_uri: String,
}

/// A reference to a shape, with the traits a member adds to it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeRef {
    pub shape: String,
    /// `uri`, `querystring`, `header`, `headers`, `statusCode`; none: the body.
    pub location: Option<String>,
    pub location_name: Option<String>,
    /// EC2's own wire name for a member.
    pub query_name: Option<String>,
    #[serde(default)]
    pub flattened: bool,
    pub timestamp_format: Option<String>,
    /// A header that carries base64-encoded JSON.
    #[serde(default)]
    pub jsonvalue: bool,
    #[serde(default)]
    pub xml_attribute: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub members: BTreeMap<String, ShapeRef>,
    /// A list's element.
    pub member: Option<Box<ShapeRef>>,
    pub key: Option<Box<ShapeRef>>,
    pub value: Option<Box<ShapeRef>>,
    #[serde(rename = "enum", default)]
    pub enum_values: Vec<String>,
    pub min: Option<serde_json::Number>,
    pub max: Option<serde_json::Number>,
    pub pattern: Option<String>,
    #[serde(default)]
    pub flattened: bool,
    /// The member that is the whole HTTP body (REST protocols).
    pub payload: Option<String>,
    pub timestamp_format: Option<String>,
    /// A free-form JSON document: anything goes.
    #[serde(default)]
    pub document: bool,
    /// Exactly one member is set.
    #[serde(default)]
    pub union: bool,
}

impl Model {
    /// The wire protocol requests use (`query`, `ec2`, `json`,
    /// `rest-json`, `rest-xml`).
    pub fn protocol(&self) -> &str {
        const KNOWN: [&str; 5] = ["query", "ec2", "json", "rest-json", "rest-xml"];
        if KNOWN.contains(&self.metadata.protocol.as_str()) {
            return &self.metadata.protocol;
        }
        self.metadata
            .protocols
            .iter()
            .find(|p| KNOWN.contains(&p.as_str()))
            .map(String::as_str)
            .unwrap_or(&self.metadata.protocol)
    }

    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }
}

/// The botocore directory of a SigV4 signing name: most are the same,
/// Amazon Managed Service for Prometheus signs as `aps` but is `amp`.
pub fn service_dir(signing_name: &str) -> &str {
    match signing_name {
        "aps" => "amp",
        other => other,
    }
}

const HINT: &str = "set MESHMON_BOTOCORE_DATA to botocore's `data` directory, or \
    MESHMON_MOTO_SERVER to the moto_server of the virtualenv scripts/test creates \
    (its botocore has the models)";

/// botocore's `data` directory: `MESHMON_BOTOCORE_DATA`, else the one
/// beside the moto server's virtualenv (`MESHMON_MOTO_SERVER` is
/// `VENV/bin/moto_server`; the models are in
/// `VENV/lib/python3.*/site-packages/botocore/data`), else the `.venv`
/// at the workspace root.
pub fn data_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("MESHMON_BOTOCORE_DATA") {
        let dir = PathBuf::from(dir);
        return if dir.is_dir() {
            Ok(dir)
        } else {
            Err(format!(
                "MESHMON_BOTOCORE_DATA={} is not a directory; {HINT}",
                dir.display()
            ))
        };
    }
    let mut venvs = Vec::new();
    if let Some(moto) = std::env::var_os("MESHMON_MOTO_SERVER")
        && let Some(venv) = Path::new(&moto).parent().and_then(Path::parent)
    {
        venvs.push(venv.to_path_buf());
    }
    venvs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    for venv in &venvs {
        if let Some(dir) = venv_data(venv) {
            return Ok(dir);
        }
    }
    Err(format!(
        "no botocore models found (looked in {}); {HINT}",
        venvs
            .iter()
            .map(|v| v.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn venv_data(venv: &Path) -> Option<PathBuf> {
    let mut pythons: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("python"))
        })
        .collect();
    pythons.sort();
    pythons
        .into_iter()
        .rev()
        .map(|p| p.join("site-packages/botocore/data"))
        .find(|d| d.is_dir())
}

/// The newest API version of a service that has a service model
/// (`ec2/` also keeps older versions, some without one).
fn newest_model(service: &Path) -> Option<(String, PathBuf)> {
    let mut versions: Vec<(String, PathBuf)> = std::fs::read_dir(service)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.to_string();
            ["service-2.json.gz", "service-2.json"]
                .iter()
                .map(|f| e.path().join(f))
                .find(|p| p.is_file())
                .map(|p| (version, p))
        })
        .collect();
    versions.sort();
    versions.pop()
}

/// Reads (once per process) the model of the service botocore keeps in
/// `data/<service>/`. `Ok(None)`: botocore has no such service.
pub fn load(service: &str) -> Result<Option<Arc<Model>>, String> {
    static MODELS: OnceLock<Mutex<HashMap<String, Option<Arc<Model>>>>> = OnceLock::new();
    let mut models = MODELS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(m) = models.get(service) {
        return Ok(m.clone());
    }
    let data = data_dir()?;
    let model = match newest_model(&data.join(service)) {
        None => None,
        Some((version, path)) => Some(Arc::new(read_model(service, &version, &path)?)),
    };
    models.insert(service.to_string(), model.clone());
    Ok(model)
}

fn read_model(service: &str, version: &str, path: &Path) -> Result<Model, String> {
    let fail = |e: &dyn std::fmt::Display| format!("reading {}: {e}", path.display());
    let raw = std::fs::read(path).map_err(|e| fail(&e))?;
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| fail(&e))?;
        out
    } else {
        raw
    };
    let mut model: Model = serde_json::from_slice(&text).map_err(|e| fail(&e))?;
    model.service = service.to_string();
    model.version = version.to_string();
    Ok(model)
}
