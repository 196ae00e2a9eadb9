//! One customer given through the inventory API (PRODUCT.md section 13): a JSON body in the
//! shape of a `[[customers]]` entry, checked by the same rules as the file (`fleet.rs`) against
//! the config in force (its `[probing]` defaults and channels), with every error at its key
//! path relative to the body (`services[0].servers[0].target`).
//!
//! Not here: who owns which server id (the caller says, through `owner`), storing the body or
//! putting it in force (`inventory`).

use std::collections::HashSet;

use serde_json::Value;

use super::fields::Checker;
use super::fleet;
use crate::config::raw::RawCustomer;
use crate::config::{Config, ConfigError, ConfigErrors, Customer};

/// Validate `body` as customer `id` against `config`. `owner` names the customer a server id
/// belongs to now, if any: a server id another customer uses is refused (ids are global).
/// On success the body is returned with its `id` filled in, as it is stored.
pub fn customer(
    config: &Config,
    id: &str,
    mut body: Value,
    owner: &dyn Fn(&str) -> Option<String>,
) -> Result<(Customer, Value), ConfigErrors> {
    let refuse = |path: &str, msg: String| ConfigErrors(vec![ConfigError { path: path.to_string(), msg }]);
    let Some(object) = body.as_object_mut() else {
        return Err(refuse("(body)", "expected an object in the shape of a [[customers]] entry".into()));
    };
    match object.get("id") {
        None => {
            object.insert("id".into(), Value::String(id.to_string()));
        }
        Some(Value::String(given)) if given == id => {}
        Some(given) => return Err(refuse("id", format!("{given} differs from the path's customer id {id:?}"))),
    }
    if let Some(Value::String(token)) = object.get("status_token") {
        if token.starts_with("env:") {
            let msg = "give the token itself; env:NAME is read from the environment only in the config file";
            return Err(refuse("status_token", msg.into()));
        }
    }
    let raw: RawCustomer = serde_path_to_error::deserialize(&body).map_err(|e| {
        let path = e.path().to_string();
        refuse(if path == "." { "(body)" } else { &path }, e.inner().to_string())
    })?;

    let no_env = |_: &str| None;
    let mut c = Checker::new(&no_env);
    let channel_ids: HashSet<&str> = config.channels.iter().map(|ch| ch.id.as_str()).collect();
    let effective = fleet::Effective::of_defaults(&config.probing.defaults);
    let mut customers = fleet::customers(&mut c, std::slice::from_ref(&raw), &effective, &channel_ids);
    for (si, service) in raw.services.iter().enumerate() {
        for (i, server) in service.servers.iter().enumerate() {
            if let Some(other) = owner(&server.id).filter(|other| other != id) {
                let msg = format!("server id {:?} is already used by customer {other:?} (ids are global)", server.id);
                c.error(format!("customers[0].services[{si}].servers[{i}].id"), msg);
            }
        }
    }
    match customers.pop() {
        Some(customer) if !c.has_errors() => Ok((customer, body)),
        _ => Err(ConfigErrors(c.into_errors().0.into_iter().map(relative).collect())),
    }
}

/// An error of the one-customer list at its path in the body.
fn relative(error: ConfigError) -> ConfigError {
    let strip = |text: &str| text.replace("customers[0].", "");
    let path = match error.path.strip_prefix("customers[0]") {
        Some("") => "(body)".to_string(),
        Some(rest) => rest.trim_start_matches('.').to_string(),
        None => error.path.clone(),
    };
    ConfigError { path, msg: strip(&error.msg) }
}
