//! The AWS side of an end-to-end test: moto behind the EKS and AMP test
//! doubles (AMP making each scraper's access entry in the EKS double, as on
//! AWS), and the AMG and Grafana test servers, linked; with the
//! environment that points meshmon at them and a CLI working on a copy of
//! the repository's `examples/`.

use std::path::Path;
use std::time::Duration;

use crate::amg::AmgServer;
use crate::amp_double::AmpDouble;
use crate::cli::{Cli, copy_dir};
use crate::eks_double::EksDouble;
use crate::grafana::GrafanaServer;
use crate::moto::Moto;

/// moto, the doubles in front of it and the Grafana servers.
pub struct EmulatedAws {
    pub moto: Moto,
    pub eks: EksDouble,
    pub amp: AmpDouble,
    pub amg: AmgServer,
    pub grafana: GrafanaServer,
}

impl EmulatedAws {
    /// Starts the doubles in front of `moto`, their transitions (CREATING,
    /// DELETING) taking `settle`.
    pub fn start(moto: Moto, settle: Duration) -> EmulatedAws {
        let eks = EksDouble::forwarding(settle, &moto.endpoint());
        let amp = AmpDouble::start(settle, &moto.endpoint());
        amp.link_eks(&eks);
        let amg = AmgServer::start();
        let grafana = GrafanaServer::start("unused-admin-token");
        amg.link(&grafana);
        EmulatedAws {
            moto,
            eks,
            amp,
            amg,
            grafana,
        }
    }

    /// What points meshmon at them: moto's credentials and endpoint, the
    /// doubles' endpoints for EKS and AMP, AMG's, and `SSL_CERT_FILE` naming
    /// Grafana's test CA.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = self.moto.env();
        env.push(("AWS_ENDPOINT_URL_EKS".into(), self.eks.endpoint()));
        env.push(("AWS_ENDPOINT_URL_AMP".into(), self.amp.endpoint()));
        env.extend(self.amg.env());
        env.extend(self.grafana.env());
        env
    }
}

/// The CLI `bin` with `env`, in a directory holding a copy of the
/// repository's `examples/`.
pub fn on_examples(bin: &str, env: Vec<(String, String)>) -> Cli {
    let cli = Cli::new(bin, env);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples"),
        cli.path(),
    );
    cli
}
