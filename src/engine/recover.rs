//! Creates an interrupted apply left pending: the intent was journaled, the
//! answer never came. Before anything is planned, each provider is asked
//! to find the object its create made; a found object is adopted into the
//! state (its wait for readiness resumed by the provider), and a create
//! that never took effect is simply planned again, with the same token.

use std::collections::HashMap;
use std::sync::Arc;

use meshmon_provider_sdk::{Intent, OpContext, ProviderError};

use super::tasks::Bounded;
use super::{Engine, Error};
use crate::addr::Address;
use crate::eval::Known;
use crate::state::{JournalEntry, PendingCreate, Replayer, ResourceState, State, Status};

/// What recovery did.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Addresses whose objects were found and adopted.
    pub adopted: Vec<Address>,
    /// Tokens of creates that never took effect: retrying them sends the
    /// same token.
    pub tokens: HashMap<Address, String>,
}

impl Engine {
    /// Resolves every pending create whose provider can be configured,
    /// dependencies first. A pending create whose provider's configuration
    /// is not known yet (its cluster is pending too and was not found)
    /// stays pending: the walk looks for it before creating it.
    pub async fn recover_pending(&self, state: &mut State) -> Result<Recovered, Error> {
        let mut recovered = Recovered::default();
        loop {
            let known = Known::all(state);
            let mut batch: Vec<(Address, PendingCreate, meshmon_provider_sdk::Map)> = Vec::new();
            for (address, p) in &state.pending {
                if p.dependencies.iter().any(|d| state.pending.contains_key(d)) {
                    continue;
                }
                let instance = crate::state::ProviderInstance::name_of(
                    p.instance.as_ref(),
                    &p.provider,
                    &self.registry,
                );
                if let Some(config) = self.providers.config(
                    &self.spec(),
                    &p.provider,
                    &instance,
                    p.instance.as_ref(),
                    &known,
                )? {
                    batch.push((address.clone(), p.clone(), config));
                }
            }
            if batch.is_empty() {
                return Ok(recovered);
            }
            let mut tasks = Bounded::new(self.parallelism);
            for (address, p, config) in batch {
                let providers = self.providers.clone();
                let lineage = state.lineage.clone();
                let block_timeout = self
                    .spec()
                    .resources
                    .get(&address)
                    .and_then(|b| b.timeouts.create);
                let key = address.clone();
                let sensitive = p.sensitive_attributes.iter().cloned().collect();
                self.secrets.learn_attributes([&p.inputs], &sensitive);
                tasks
                    .spawn(key, async move {
                        let found = async {
                            let res = providers
                                .resource(&p.provider, &config, &p.type_name)
                                .await?;
                            let ctx = OpContext::new(
                                address.to_string(),
                                block_timeout,
                                Arc::new(|_| {}),
                            )
                            .with_intent(Intent {
                                token: p.token.clone(),
                                lineage,
                            });
                            res.recover(&ctx, &p.inputs)
                                .await
                                .map_err(|e| Error::Provider {
                                    address: address.clone(),
                                    operation: "recover",
                                    source: Box::new(e),
                                })
                        }
                        .await;
                        (p, found)
                    })
                    .await;
            }
            let mut failed = Vec::new();
            while let Some((address, joined)) = tasks.next().await {
                let (p, found) = match joined {
                    Ok(done) => done,
                    Err(panicked) => {
                        failed.push(Error::Provider {
                            address,
                            operation: "recover",
                            source: Box::new(ProviderError::new(panicked.to_string())),
                        });
                        continue;
                    }
                };
                match found {
                    Err(e) => failed.push(e),
                    Ok(None) => {
                        state.pending.remove(&address);
                        recovered.tokens.insert(address, p.token);
                    }
                    Ok(Some(outputs)) => {
                        // Recorded exactly as the walk records a create
                        // that answered, deposing what it replaces.
                        let resource = ResourceState {
                            type_name: p.type_name,
                            provider: p.provider,
                            inputs: p.inputs,
                            outputs,
                            dependencies: p.dependencies,
                            status: Status::Ready,
                            sensitive_attributes: p.sensitive_attributes,
                            instance: p.instance,
                        };
                        Replayer::default().apply(
                            state,
                            JournalEntry::Set {
                                address: address.clone(),
                                resource: Box::new(resource),
                                depose: p.deposes,
                            },
                        );
                        recovered.adopted.push(address);
                    }
                }
            }
            Error::all_of(failed)?;
        }
    }
}
