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

/// How long the doubles' transitions take.
#[derive(Clone, Copy, Debug)]
pub struct Delays {
    /// Every transition (CREATING, UPDATING, DELETING) without a delay of
    /// its own below.
    pub settle: Duration,
    /// An EKS cluster's creation.
    pub cluster_create: Duration,
    /// A managed node group's creation (moto's node groups are ACTIVE at
    /// once: zero keeps them so).
    pub node_group_create: Duration,
    /// An AMP managed collector's (scraper's) creation.
    pub scraper_create: Duration,
    /// Every transition of an AMG workspace; `None` counts polls instead
    /// (two DescribeWorkspace calls, the AMG test server's default).
    pub workspace: Option<Duration>,
}

impl Delays {
    /// Every transition takes `settle`, node groups are ACTIVE at once and
    /// AMG workspaces settle after two polls: what [`EmulatedAws::start`]
    /// gives.
    pub fn uniform(settle: Duration) -> Delays {
        Delays {
            settle,
            cluster_create: settle,
            node_group_create: Duration::ZERO,
            scraper_create: settle,
            workspace: None,
        }
    }
}

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
        Self::start_with(moto, Delays::uniform(settle))
    }

    /// Starts the doubles in front of `moto`, their transitions taking
    /// `delays`.
    pub fn start_with(moto: Moto, delays: Delays) -> EmulatedAws {
        let eks = EksDouble::forwarding(delays.settle, &moto.endpoint());
        eks.set_cluster_create_delay(delays.cluster_create);
        eks.set_node_group_delay(delays.node_group_create);
        let amp = AmpDouble::start(delays.settle, &moto.endpoint());
        amp.set_scraper_create_delay(delays.scraper_create);
        amp.link_eks(&eks);
        let amg = AmgServer::start();
        if let Some(t) = delays.workspace {
            amg.settle_after_time(t);
        }
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
