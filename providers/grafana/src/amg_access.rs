//! Who may use a workspace: `aws_grafana_role_association` (IAM Identity
//! Center users and groups given a Grafana role, through the workspace's
//! permissions) and `aws_grafana_service_account` (a Grafana service account
//! for automation, like meshmon's own `grafana` provider).
//!
//! A role association is not an object in AMG, only the set of users and
//! groups that hold one role, so reading it lists the permissions and keeps
//! those with the role; when none are left it is gone. AMG has no call to
//! change a service account, so every attribute of one forces a replacement.
//!
//! Both are found again after a lost answer by what the API keeps unique: a
//! role association by its workspace and role, a service account by its
//! name in its workspace.

use std::sync::Arc;

use aws_sdk_grafana::types::{
    Role, ServiceAccountSummary, UpdateAction, UpdateInstruction, User, UserType,
};
use meshmon_aws_common::error::{api_with, found_with, gone_ok_with};
use meshmon_aws_common::wait::create_call_with;
use meshmon_provider_sdk::{
    AttrType, Current, Declared, Inputs, Map, NoUpdates, OpContext, ProviderError, UpdateGroup,
    Value, async_trait, declare,
};

use crate::amg::{Clients, hint};
use crate::attrs::{Attrs, order_like, str_of, strings, strings_of};

// ------------------------------------------- aws_grafana_role_association

fn list() -> AttrType {
    AttrType::list_of(AttrType::String)
}

declare! {
    pub(crate) struct AssociationIn for "aws_grafana_role_association"
        ("IAM Identity Center users and groups holding one Grafana role in a workspace.")
    {
        workspace_id: String = required(AttrType::String).force_new();
        role: String = required(AttrType::String)
            .force_new()
            .describe("ADMIN, EDITOR or VIEWER.");
        #[serde(default)]
        user_ids: Vec<String> = optional(list())
            .describe("Identity Center user IDs; changed in place.");
        #[serde(default)]
        group_ids: Vec<String> = optional(list())
            .describe("Identity Center group IDs; changed in place.");
    }
    checks {
        someone: ["user_ids", "group_ids"];
    }
    outputs AssociationOut {
        id: String = computed(AttrType::String)
            .describe("WORKSPACE_ID/ROLE; `meshmon import` takes it.");
    }
}

pub(crate) struct RoleAssociation(Arc<Clients>);

/// An association holds a role for at least one user or group: one with
/// none reads as gone.
fn someone(inputs: &Map) -> Result<(), (&'static str, String)> {
    let listed = |k: &str| {
        inputs
            .get(k)
            .and_then(Value::as_list)
            .is_some_and(|l| !l.is_empty())
    };
    if listed("user_ids") || listed("group_ids") {
        Ok(())
    } else {
        Err((
            "user_ids",
            "is empty, and so is `group_ids`: a role association needs at least one user or group"
                .into(),
        ))
    }
}

/// What an association changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum AssociationUpdate {
    /// One UpdatePermissions batch adds and revokes users and groups alike.
    Members,
}

fn users(ids: &[String], ty: UserType) -> Result<Vec<User>, ProviderError> {
    ids.iter()
        .map(|id| User::builder().id(id).r#type(ty.clone()).build())
        .collect::<Result<_, _>>()
        .map_err(ProviderError::invalid_inputs)
}

impl RoleAssociation {
    /// Adds and revokes in one UpdatePermissions batch; AMG answers 200
    /// even when some entries fail, listing them in `errors`. For a create
    /// (`creating`, with the create's context) it is sent as creates are
    /// ([`create_call_with`]).
    async fn change(
        &self,
        ws: &str,
        role: &str,
        add: (&[String], &[String]),
        revoke: (&[String], &[String]),
        creating: Option<&OpContext>,
    ) -> Result<(), ProviderError> {
        let mut batch = Vec::new();
        for (action, (u, g)) in [(UpdateAction::Add, add), (UpdateAction::Revoke, revoke)] {
            let mut who = users(u, UserType::SsoUser)?;
            who.extend(users(g, UserType::SsoGroup)?);
            if who.is_empty() {
                continue;
            }
            batch.push(
                UpdateInstruction::builder()
                    .action(action)
                    .role(Role::from(role))
                    .set_users(Some(who))
                    .build()
                    .map_err(ProviderError::invalid_inputs)?,
            );
        }
        if batch.is_empty() {
            return Ok(());
        }
        let op = "grafana:UpdatePermissions";
        let out = if let Some(ctx) = creating {
            let g = &self.0.creates;
            create_call_with(ctx, hint, op, || {
                g.update_permissions()
                    .workspace_id(ws)
                    .set_update_instruction_batch(Some(batch.clone()))
                    .send()
            })
            .await?
        } else {
            self.0
                .grafana
                .update_permissions()
                .workspace_id(ws)
                .set_update_instruction_batch(Some(batch))
                .send()
                .await
                .map_err(|e| api_with(hint, op, e))?
        };
        if let Some(e) = out.errors().first() {
            return Err(ProviderError::api("grafana:UpdatePermissions", Some(e.code().to_string()), e.message())
                .with_hint("check that the user and group IDs exist in IAM Identity Center (`aws identitystore list-users`)"));
        }
        Ok(())
    }

    /// The users and groups holding `role`, or `None` if the workspace is gone.
    async fn holders(
        &self,
        ws: &str,
        role: &str,
    ) -> Result<Option<(Vec<String>, Vec<String>)>, ProviderError> {
        let (mut u, mut g) = (Vec::new(), Vec::new());
        let mut next: Option<String> = None;
        loop {
            let r = self
                .0
                .grafana
                .list_permissions()
                .workspace_id(ws)
                .set_next_token(next.take())
                .send()
                .await;
            let Some(out) = found_with(hint, "grafana:ListPermissions", r)? else {
                return Ok(None);
            };
            for p in out
                .permissions()
                .iter()
                .filter(|p| p.role().as_str() == role)
            {
                if let Some(user) = p.user() {
                    match user.r#type() {
                        UserType::SsoGroup => g.push(user.id().to_string()),
                        _ => u.push(user.id().to_string()),
                    }
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(Some((u, g))),
            }
        }
    }

    async fn get(
        &self,
        ws: &str,
        role: &str,
        prior: &Map,
    ) -> Result<Option<Current<AssociationOut>>, ProviderError> {
        let Some((u, g)) = self.holders(ws, role).await? else {
            return Ok(None);
        };
        if u.is_empty() && g.is_empty() {
            return Ok(None);
        }
        let inputs = Attrs::new()
            .set("workspace_id", ws)
            .set("role", role)
            .unless_empty(prior, "user_ids", strings(order_like(prior, "user_ids", u)))
            .unless_empty(
                prior,
                "group_ids",
                strings(order_like(prior, "group_ids", g)),
            )
            .build();
        Ok(Some(Current::new(
            inputs,
            AssociationOut {
                id: format!("{ws}/{role}"),
            },
        )))
    }
}

fn association_outputs(i: &AssociationIn) -> AssociationOut {
    AssociationOut {
        id: format!("{}/{}", i.workspace_id, i.role),
    }
}

fn minus(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|x| !b.contains(x)).cloned().collect()
}

/// An association's ID, WORKSPACE_ID/ROLE, in its parts.
fn association_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once('/').ok_or_else(|| {
        ProviderError::new(format!("{id:?} is not WORKSPACE_ID/ROLE"))
            .with_hint("import a role association as g-abc123/ADMIN")
    })
}

#[async_trait]
impl Declared for RoleAssociation {
    type Inputs = AssociationIn;
    type Outputs = AssociationOut;
    type Client = Clients;
    type Group = AssociationUpdate;
    const UPDATES: &'static [UpdateGroup<AssociationUpdate>] =
        &[(AssociationUpdate::Members, &["user_ids", "group_ids"])];

    fn new(clients: Arc<Clients>) -> Self {
        RoleAssociation(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<AssociationOut>>, ProviderError> {
        let (ws, role) = association_id(id)?;
        self.get(ws, role, prior).await
    }

    /// WORKSPACE_ID/ROLE, the role in any case.
    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        let (ws, role) = association_id(id)?;
        Ok(format!("{ws}/{}", role.to_ascii_uppercase()))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, AssociationIn>,
    ) -> Result<AssociationOut, ProviderError> {
        someone(i.raw())
            .map_err(|(attribute, why)| ProviderError::new(format!("`{attribute}` {why}")))?;
        self.change(
            &i.workspace_id,
            &i.role,
            (&i.user_ids, &i.group_ids),
            (&[], &[]),
            Some(ctx),
        )
        .await?;
        Ok(association_outputs(i))
    }

    /// The association is its workspace and role: found when every user
    /// and group the create adds holds the role. When some do not, the
    /// create runs again, which adds them (adding one who holds the role
    /// already changes nothing).
    async fn recover(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, AssociationIn>,
    ) -> Result<Option<AssociationOut>, ProviderError> {
        let Some((u, g)) = self.holders(&i.workspace_id, &i.role).await? else {
            return Ok(None);
        };
        let all = (!i.user_ids.is_empty() || !i.group_ids.is_empty())
            && i.user_ids.iter().all(|x| u.contains(x))
            && i.group_ids.iter().all(|x| g.contains(x));
        Ok(all.then(|| association_outputs(i)))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: AssociationUpdate,
        _id: &str,
        prior: &Current,
        i: &Inputs<'_, AssociationIn>,
    ) -> Result<Option<AssociationOut>, ProviderError> {
        let AssociationUpdate::Members = group;
        let (ou, og) = (
            strings_of(&prior.inputs, "user_ids"),
            strings_of(&prior.inputs, "group_ids"),
        );
        self.change(
            &i.workspace_id,
            &i.role,
            (&minus(&i.user_ids, &ou), &minus(&i.group_ids, &og)),
            (&minus(&ou, &i.user_ids), &minus(&og, &i.group_ids)),
            None,
        )
        .await?;
        Ok(None)
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        _id: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        let ws = str_of(&prior.inputs, "workspace_id")?;
        let role = str_of(&prior.inputs, "role")?;
        let (u, g) = (
            strings_of(&prior.inputs, "user_ids"),
            strings_of(&prior.inputs, "group_ids"),
        );
        match self.change(ws, role, (&[], &[]), (&u, &g), None).await {
            Err(e) if e.code.as_deref() == Some("ResourceNotFoundException") => Ok(()),
            r => r,
        }
    }
}

// -------------------------------------------- aws_grafana_service_account

declare! {
    pub(crate) struct AccountIn for "aws_grafana_service_account"
        ("A Grafana service account in an AMG workspace.")
    {
        workspace_id: String = required(AttrType::String).force_new();
        name: String = required(AttrType::String).force_new();
        grafana_role: String = required(AttrType::String)
            .force_new()
            .describe(
                "ADMIN, EDITOR or VIEWER; AMG cannot change it, so a change replaces the account.",
            );
    }
    outputs AccountOut {
        id: String = computed(AttrType::String)
            .describe("The service account's ID in Grafana; import as WORKSPACE_ID/ID.");
    }
}

pub(crate) struct ServiceAccount(Arc<Clients>);

impl ServiceAccount {
    /// The workspace's service account `pick` chooses, or `None` when there
    /// is none (or no workspace).
    async fn find(
        &self,
        ws: &str,
        pick: impl Fn(&ServiceAccountSummary) -> bool,
    ) -> Result<Option<ServiceAccountSummary>, ProviderError> {
        let mut next: Option<String> = None;
        loop {
            let r = self
                .0
                .grafana
                .list_workspace_service_accounts()
                .workspace_id(ws)
                .set_next_token(next.take())
                .send()
                .await;
            let Some(out) = found_with(hint, "grafana:ListWorkspaceServiceAccounts", r)? else {
                return Ok(None);
            };
            if let Some(a) = out.service_accounts().iter().find(|a| pick(a)) {
                return Ok(Some(a.clone()));
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(None),
            }
        }
    }

    async fn get(&self, ws: &str, id: &str) -> Result<Option<Current<AccountOut>>, ProviderError> {
        let Some(a) = self.find(ws, |a| a.id() == id).await? else {
            return Ok(None);
        };
        let inputs = Attrs::new()
            .set("workspace_id", ws)
            .set("name", a.name())
            .set("grafana_role", a.grafana_role().as_str())
            .build();
        Ok(Some(Current::new(inputs, AccountOut { id: id.into() })))
    }
}

#[async_trait]
impl Declared for ServiceAccount {
    type Inputs = AccountIn;
    type Outputs = AccountOut;
    type Client = Clients;
    type Group = NoUpdates;

    fn new(clients: Arc<Clients>) -> Self {
        ServiceAccount(clients)
    }

    /// `id` is the account's ID in the recorded workspace, or, on import
    /// (nothing recorded), WORKSPACE_ID/ID.
    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<AccountOut>>, ProviderError> {
        match id.split_once('/') {
            Some((ws, sa)) if prior.is_empty() => self.get(ws, sa).await,
            _ => self.get(str_of(prior, "workspace_id")?, id).await,
        }
    }

    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        match id.split_once('/') {
            Some(_) => Ok(id.to_string()),
            None => Err(ProviderError::new(format!(
                "{id:?} is not WORKSPACE_ID/SERVICE_ACCOUNT_ID"
            ))
            .with_hint("import a service account as g-abc123/7")),
        }
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, AccountIn>,
    ) -> Result<AccountOut, ProviderError> {
        let g = &self.0.creates;
        let out = create_call_with(ctx, hint, "grafana:CreateWorkspaceServiceAccount", || {
            g.create_workspace_service_account()
                .workspace_id(&i.workspace_id)
                .name(&i.name)
                .grafana_role(Role::from(i.grafana_role.as_str()))
                .send()
        })
        .await?;
        Ok(AccountOut {
            id: out.id().into(),
        })
    }

    /// Finds the account by its name, which AMG keeps unique in a
    /// workspace. One with this name and another role is not this
    /// create's: the create runs again, and AMG refuses it for the name.
    async fn recover(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, AccountIn>,
    ) -> Result<Option<AccountOut>, ProviderError> {
        let found = self
            .find(&i.workspace_id, |a| {
                a.name() == i.name && a.grafana_role().as_str() == i.grafana_role
            })
            .await?;
        Ok(found.map(|a| AccountOut { id: a.id().into() }))
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        let r = self
            .0
            .grafana
            .delete_workspace_service_account()
            .workspace_id(str_of(&prior.inputs, "workspace_id")?)
            .service_account_id(id)
            .send()
            .await;
        gone_ok_with(hint, "grafana:DeleteWorkspaceServiceAccount", r)
    }
}

#[cfg(test)]
#[path = "amg_access_test.rs"]
mod tests;
