//! Who may call what (PRODUCT.md section 11), in one table: every route with the credential it
//! needs, and the gate that enforces it before any handler runs. The router is built from
//! [`table`] only, so a route cannot exist without saying who may call it, and the
//! authorization matrix test walks the same table.
//!
//! - [`Access::Read`]: a viewer or an operator; [`Access::Write`]: an operator. The credential
//!   is `Authorization: Bearer <token>` (`[server] operator_tokens` / `viewer_tokens`) or the
//!   `fw_session` cookie of a page sign-in. None: 401 (`/api/…`) or a redirect to `/login`
//!   (pages); a token that is not one of them, or a viewer writing: 403. Refusals carry no
//!   customer data, and the body of a refused request is drained, never kept. A write on a
//!   session must come from our own origin. A wrong token counts as a failed sign-in
//!   (`throttle.rs`); a locked-out address gets 429 for any token. The handler gets the
//!   [`Credential`], whose name is the actor of whatever it does.
//! - [`Access::Customer`]: `/status/{customer}`, that customer's status token only; the page
//!   checks it itself (it also turns an access link's `?token=` into a cookie).
//! - [`Access::Metrics`]: open, or the `[server] metrics_token` bearer when one is set.
//! - [`Access::Link`]: `/ack/{token}`, an acknowledgement link: the single-use token in the
//!   path is the credential, and the page checks it itself (unknown 404, spent 410).
//! - [`Access::Signed`]: `/hooks/…`, a paging vendor's webhook: its signature, checked by the
//!   handler against the channel's secret before anything is read, is the credential (403).
//! - [`Access::Open`]: nothing of any customer: health, readiness, sign-in, the API document.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::header::{HeaderValue, RETRY_AFTER};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};
use axum::Router;

use super::client::ClientAddr;
use super::credential::{bearer, of_token, Credential, Role};
use super::pages::{self, session as page_session};
use super::{api, health, hooks, json, openapi, session, ApiError, AppState};
use crate::config::constant_time_eq;

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Open,
    Metrics,
    Customer,
    Link,
    Signed,
    Read,
    Write,
}

/// One route: method, path (axum syntax), who may call it, and its handler.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    handler: MethodRouter<AppState>,
}

fn get<H: Handler<T, AppState>, T: 'static>(path: &'static str, access: Access, handler: H) -> Route {
    Route { method: Method::GET, path, access, handler: routing::get(handler) }
}

fn post<H: Handler<T, AppState>, T: 'static>(path: &'static str, access: Access, handler: H) -> Route {
    Route { method: Method::POST, path, access, handler: routing::post(handler) }
}

fn put<H: Handler<T, AppState>, T: 'static>(path: &'static str, access: Access, handler: H) -> Route {
    Route { method: Method::PUT, path, access, handler: routing::put(handler) }
}

fn delete<H: Handler<T, AppState>, T: 'static>(path: &'static str, access: Access, handler: H) -> Route {
    Route { method: Method::DELETE, path, access, handler: routing::delete(handler) }
}

/// Every route of the HTTP surface and who may call it.
pub fn table() -> Vec<Route> {
    use Access::*;
    vec![
        get("/healthz", Open, health::healthz),
        get("/readyz", Open, health::readyz),
        get("/metrics", Metrics, health::metrics),
        get("/api/v1/openapi.json", Open, openapi::openapi_json),
        get("/api/v1/servers", Read, api::servers::list),
        get("/api/v1/cases", Read, api::cases::list),
        get("/api/v1/cases/{id}", Read, api::cases::show),
        post("/api/v1/cases/{id}/ack", Write, api::cases::ack),
        post("/api/v1/cases/{id}/notes", Write, api::cases::note),
        post("/api/v1/cases/{id}/resolve", Write, api::cases::resolve),
        post("/api/v1/cases/{id}/close", Write, api::cases::close),
        get("/api/v1/dead-letters", Read, api::dead_letters::list),
        get("/api/v1/maintenance", Read, api::maintenance::list),
        post("/api/v1/maintenance", Write, api::maintenance::add),
        post("/api/v1/reload", Write, api::reload::reload),
        get("/api/v1/oncall", Read, api::oncall::show),
        post("/api/v1/oncall/overrides", Write, api::oncall::add),
        delete("/api/v1/oncall/overrides/{id}", Write, api::oncall::remove),
        post("/api/v1/people/{id}/test", Write, api::people::test),
        get("/api/v1/inventory/customers", Read, api::inventory::list),
        get("/api/v1/inventory/customers/{id}", Read, api::inventory::show),
        put("/api/v1/inventory/customers/{id}", Write, api::inventory::put),
        delete("/api/v1/inventory/customers/{id}", Write, api::inventory::delete),
        get("/login", Open, pages::login::form),
        post("/login", Open, pages::login::submit),
        post("/logout", Open, pages::login::logout),
        get("/status/{customer}", Customer, pages::customer::page),
        get("/ack/{token}", Link, pages::ack::show),
        post("/ack/{token}", Link, pages::ack::acknowledge),
        post("/hooks/pagerduty", Signed, hooks::pagerduty::receive),
        post("/hooks/twilio/sms", Signed, hooks::twilio::sms),
        post("/hooks/twilio/voice", Signed, hooks::twilio::voice),
        get("/", Read, pages::ops::page),
        get("/cases/{id}", Read, pages::case::page),
        post("/cases/{id}/ack", Write, pages::case::ack),
        post("/cases/{id}/resolve", Write, pages::case::resolve),
        post("/cases/{id}/close", Write, pages::case::close),
        post("/cases/{id}/notes", Write, pages::case::note),
        get("/maintenance", Read, pages::maintenance::page),
        post("/maintenance", Write, pages::maintenance::add),
    ]
}

/// The routes of [`table`], each behind its gate; the body is read (bounded) only once the
/// gate let the request in.
pub fn routes(state: &AppState) -> Router<AppState> {
    table().into_iter().fold(Router::new(), |router, route| {
        let gate = Gate { state: state.clone(), access: route.access };
        let handler = route
            .handler
            .route_layer(axum::middleware::from_fn(json::read_body_first))
            .route_layer(axum::middleware::from_fn_with_state(gate, enforce));
        router.route(route.path, handler)
    })
}

#[derive(Clone)]
struct Gate {
    state: AppState,
    access: Access,
}

/// The gate in front of every route. A refused request's body is drained, never kept.
async fn enforce(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let state = &gate.state;
    let needs = match gate.access {
        Access::Open | Access::Customer | Access::Link | Access::Signed => return next.run(request).await,
        Access::Metrics => {
            let Some(expected) = &state.config().server.metrics_token else {
                return next.run(request).await;
            };
            let refusal = match bearer(request.headers()) {
                None => ApiError::Unauthorized,
                Some(token) if constant_time_eq(token.as_bytes(), expected.expose().as_bytes()) => {
                    return next.run(request).await;
                }
                Some(_) => ApiError::Forbidden,
            };
            return refuse(request, refusal.into_response()).await;
        }
        Access::Read => Role::Viewer,
        Access::Write => Role::Operator,
    };
    let page = !request.uri().path().starts_with("/api/");
    // A presented token is a sign-in: a locked-out address gets 429 whatever it presents, and
    // a wrong token counts as a failed sign-in.
    let client = match bearer(request.headers()) {
        Some(_) => ClientAddr::of(request.extensions(), request.headers(), state).0,
        None => None,
    };
    if let Some(wait) = client.and_then(|addr| state.throttle.blocked(addr, Instant::now())) {
        return refuse(request, too_many(wait)).await;
    }
    let verdict = credential(state, request.headers()).await;
    if let (Err(Refused::WrongToken), Some(addr)) = (&verdict, client) {
        state.throttle.failed(addr, Instant::now());
    }
    let response = match verdict {
        Ok(Some(who)) if who.session && request.method() != Method::GET && !page_session::from_our_origin(&request) => {
            // A session rides on a cookie the browser adds by itself: a write with it must come
            // from our own pages (the API's writes included).
            ApiError::Forbidden.into_response()
        }
        Ok(Some(who)) if who.role == Role::Operator || needs == Role::Viewer => {
            let mut request = request;
            request.extensions_mut().insert(who);
            return next.run(request).await;
        }
        Ok(Some(_)) | Err(Refused::WrongToken) if page => page_session::forbidden(),
        Ok(Some(_)) | Err(Refused::WrongToken) => ApiError::Forbidden.into_response(),
        Ok(None) if page => page_session::to_login(&request),
        Ok(None) => ApiError::Unauthorized.into_response(),
        Err(Refused::Store(error)) => ApiError::from(error).into_response(),
    };
    refuse(request, response).await
}

/// Answer `response` after draining what the client still sends.
async fn refuse(request: Request, response: Response) -> Response {
    json::discard(request.into_body()).await;
    response
}

/// 429 with `Retry-After`, for an address locked out after failed sign-ins.
fn too_many(wait: std::time::Duration) -> Response {
    let message = "too many failed sign-ins from this address; try again in a minute".to_string();
    let mut response = ApiError::Rejected(StatusCode::TOO_MANY_REQUESTS, message).into_response();
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
    response
}

/// Why a credential was not accepted.
enum Refused {
    /// A bearer token that is none of ours (a customer's status token included).
    WrongToken,
    Store(crate::store::StoreError),
}

/// The credential a request carries: its bearer token, else its session cookie. A session
/// that ended, or whose token was since removed from the config, is no credential at all.
async fn credential(state: &AppState, headers: &HeaderMap) -> Result<Option<Credential>, Refused> {
    if let Some(token) = bearer(headers) {
        return match of_token(state, token) {
            Some((name, role)) => Ok(Some(Credential { name, role, session: false })),
            None => Err(Refused::WrongToken),
        };
    }
    session::of_request(state, headers).await.map_err(Refused::Store)
}
