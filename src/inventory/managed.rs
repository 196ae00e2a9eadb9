//! Customers managed through the inventory API (PRODUCT.md section 13): `PUT` and `DELETE`
//! of one customer, checked like the file against the config in force, stored in the database
//! first and then put in force here; every other instance reads the rows changed since its
//! last look ([`Inventory::sync`], each second) and puts them in force the same way. File
//! customers are read-only here, and a reload of the files keeps these ([`compose`]).
//!
//! Not here: the rules a customer must follow (`config::validate::managed`), the rows
//! (`store::inventory`), carrying state across the change (`fleet::Fleet::rebuild`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::Inventory;
use crate::config::{Config, ConfigError, ConfigErrors, Customer};
use crate::store::{Store, StoreError};

/// The API customers known here: each one's stored body, and the last version read.
#[derive(Debug, Default)]
pub struct Managed {
    bodies: BTreeMap<String, Value>,
    seen: i64,
}

impl Managed {
    pub fn body(&self, id: &str) -> Option<&Value> {
        self.bodies.get(id)
    }

    /// Bodies in id order from after `cursor`, at most `limit`.
    pub fn page(&self, cursor: Option<&str>, limit: usize) -> Vec<(&str, &Value)> {
        use std::ops::Bound::{Excluded, Unbounded};
        let from = cursor.map_or(Unbounded, |c| Excluded(c.to_string()));
        self.bodies.range((from, Unbounded)).take(limit).map(|(id, body)| (id.as_str(), body)).collect()
    }
}

/// Why an inventory change changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("customer {0:?} is defined in {1}; it can be changed only there")]
    FileDefined(String, String),
    #[error("no customer {0:?} is managed through the inventory API")]
    Unknown(String),
    #[error("the customer is not valid; nothing changed")]
    Invalid(ConfigErrors),
    #[error("the change could not be stored; nothing changed: {0}")]
    Store(#[from] StoreError),
    #[error("the change could not be put in force: {0}")]
    Failed(String),
}

/// What a PUT did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Created,
    Replaced,
    /// The same body was already in force: nothing written.
    Unchanged,
}

/// Refuse a change of customer `id` if `config`'s files define it.
fn not_file_defined(config: &Config, id: &str) -> Result<(), ChangeError> {
    match config.customers.iter().find(|c| c.id == id && !c.managed) {
        Some(file) => {
            let place = match &file.source {
                Some(file) => format!("the included file {file}"),
                None => "the config file".to_string(),
            };
            Err(ChangeError::FileDefined(id.to_string(), place))
        }
        None => Ok(()),
    }
}

impl Inventory {
    /// Create or replace API customer `id` with `body`, or change nothing.
    pub async fn put_customer(&self, id: &str, body: Value, by: &str) -> Result<Put, ChangeError> {
        let mut managed = self.changing.lock().await;
        let config = self.live.config();
        not_file_defined(&config, id)?;
        let fleet = self.live.fleet();
        let owner = |server: &str| fleet.get(server).map(|e| e.customer.to_string());
        let (customer, body) = config.managed_customer(id, body, &owner).map_err(ChangeError::Invalid)?;
        let outcome = match managed.bodies.get(id) {
            Some(known) if *known == body => return Ok(Put::Unchanged),
            Some(_) => Put::Replaced,
            None => Put::Created,
        };
        let text = body.to_string();
        self.store.put_inventory(id, Some(&text), self.clock.now_ms(), by).await?;
        managed.bodies.insert(id.to_string(), body);
        let mut next = (*config).clone();
        replace(&mut next, id, Some(customer));
        self.put_in_force(next, Some(&[id])).map_err(ChangeError::Failed)?;
        tracing::info!(customer = id, by, ?outcome, "inventory customer put");
        Ok(outcome)
    }

    /// Delete API customer `id`: its servers leave the fleet and their cases are resolved by
    /// the inventory (`cases::engine::inventory`).
    pub async fn delete_customer(&self, id: &str, by: &str) -> Result<(), ChangeError> {
        let mut managed = self.changing.lock().await;
        let config = self.live.config();
        not_file_defined(&config, id)?;
        if !managed.bodies.contains_key(id) {
            return Err(ChangeError::Unknown(id.to_string()));
        }
        self.store.put_inventory(id, None, self.clock.now_ms(), by).await?;
        managed.bodies.remove(id);
        let mut next = (*config).clone();
        replace(&mut next, id, None);
        self.put_in_force(next, Some(&[id])).map_err(ChangeError::Failed)?;
        tracing::info!(customer = id, by, "inventory customer deleted");
        Ok(())
    }

    /// Read a view of the API customers (the bodies as stored).
    pub async fn managed<R>(&self, f: impl FnOnce(&Managed) -> R) -> R {
        f(&*self.changing.lock().await)
    }

    /// Put in force what other instances changed since the last look. A row that is not valid
    /// here (the instances' files differ) is skipped with an error in the log.
    pub async fn sync(&self) -> Result<usize, StoreError> {
        let mut managed = self.changing.lock().await;
        let rows = self.store.inventory_since(managed.seen).await?;
        let Some(last) = rows.last().map(|r| r.version) else { return Ok(0) };
        let config = self.live.config();
        let fleet = self.live.fleet();
        // The customers this batch changes, as they will be: a server id moves between two of
        // them within one batch without either seeing the other's old version.
        let mut changed: HashMap<String, Option<Customer>> = HashMap::new();
        for row in rows {
            let body = match row.body.as_deref().map(serde_json::from_str::<Value>).transpose() {
                Ok(body) => body,
                Err(error) => {
                    tracing::error!(customer = %row.id, %error, "a stored inventory customer is not JSON; skipped");
                    continue;
                }
            };
            if body.as_ref() == managed.bodies.get(&row.id) {
                continue;
            }
            if not_file_defined(&config, &row.id).is_err() {
                tracing::error!(customer = %row.id, "an inventory customer has the id of a file customer here; skipped");
                continue;
            }
            let Some(body) = body else {
                managed.bodies.remove(&row.id);
                changed.insert(row.id, None);
                continue;
            };
            let owner = |server: &str| {
                let now =
                    changed.iter().find_map(|(id, c)| c.as_ref().filter(|c| has_server(c, server)).map(|_| id.clone()));
                now.or_else(|| fleet.get(server).map(|e| e.customer.to_string()).filter(|id| !changed.contains_key(id)))
            };
            match config.managed_customer(&row.id, body, &owner) {
                Ok((customer, body)) => {
                    managed.bodies.insert(row.id.clone(), body);
                    changed.insert(row.id, Some(customer));
                }
                Err(errors) => {
                    tracing::error!(customer = %row.id, %errors, "an inventory customer is not valid here; skipped");
                }
            }
        }
        managed.seen = last;
        let count = changed.len();
        if count > 0 {
            let mut next = (*config).clone();
            let ids: Vec<String> = changed.keys().cloned().collect();
            for (id, customer) in changed {
                replace(&mut next, &id, customer);
            }
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            self.put_in_force(next, Some(&ids)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tracing::info!(customers = count, "inventory changes of another instance put in force");
        }
        Ok(count)
    }

    /// Follow the inventory rows every second until `stop`.
    pub async fn follow(self, stop: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(error) = self.sync().await {
                        tracing::warn!(%error, "cannot read inventory changes; retrying");
                    }
                }
            }
        }
    }
}

fn has_server(customer: &Customer, server: &str) -> bool {
    customer.services.iter().any(|s| s.servers.iter().any(|x| x.id == server))
}

/// Replace customer `id` of `config` by `customer` (kept in place), add it at the end, or
/// (`None`) remove it.
fn replace(config: &mut Config, id: &str, customer: Option<Customer>) {
    let at = config.customers.iter().position(|c| c.id == id);
    match (at, customer) {
        (Some(i), Some(customer)) => config.customers[i] = Arc::new(customer),
        (None, Some(customer)) => config.customers.push(Arc::new(customer)),
        (Some(i), None) => {
            config.customers.remove(i);
        }
        (None, None) => {}
    }
}

/// `files` (a config read from the files, without API customers) with the API customers of
/// `managed` added, each checked against it; errors are named `inventory customer ID: path`.
/// What start-up and a reload put in force.
pub fn compose(mut files: Config, managed: &Managed) -> Result<Config, ConfigErrors> {
    let mut owners: HashMap<String, String> =
        files.fleet().map(|f| (f.server.id.clone(), f.customer.id.clone())).collect();
    let file_ids: HashMap<&str, usize> = files.customers.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect();
    let mut errors = Vec::new();
    let mut added = Vec::new();
    for (id, body) in &managed.bodies {
        if let Some(i) = file_ids.get(id.as_str()) {
            let msg = format!(
                "customer {id:?} is managed through the inventory API; DELETE /api/v1/inventory/customers/{id} \
                 before defining it in a file"
            );
            errors.push(ConfigError { path: format!("customers[{i}].id"), msg });
            continue;
        }
        let owner = |server: &str| owners.get(server).cloned();
        match files.managed_customer(id, body.clone(), &owner) {
            Ok((customer, _)) => {
                for service in &customer.services {
                    for server in &service.servers {
                        owners.insert(server.id.clone(), id.clone());
                    }
                }
                added.push(customer);
            }
            Err(e) => errors.extend(
                e.0.into_iter()
                    .map(|e| ConfigError { path: format!("inventory customer {id}: {}", e.path), msg: e.msg }),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    files.customers.extend(added.into_iter().map(Arc::new));
    Ok(files)
}

/// Read the API customers from `store` and add them to `files`: what a start puts in force.
pub async fn load(store: &Store, files: Config) -> anyhow::Result<(Config, Managed)> {
    let mut managed = Managed::default();
    for row in store.inventory_since(0).await? {
        managed.seen = row.version;
        let Some(text) = row.body else { continue };
        let body = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("the stored inventory customer {:?} is not JSON: {e}", row.id))?;
        managed.bodies.insert(row.id, body);
    }
    let config = compose(files, &managed).map_err(|errors| {
        anyhow::anyhow!(
            "the customers managed through the inventory API do not fit this config (restore what they \
             refer to, or start with the former config and change them):\n{errors}"
        )
    })?;
    Ok((config, managed))
}
