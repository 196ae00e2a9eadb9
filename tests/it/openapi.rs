//! `GET /api/v1/openapi.json`: an OpenAPI 3 document that describes every endpoint, whose every
//! reference resolves, and whose every path is really routed.

use serde_json::Value;

use crate::helpers::app::{config_toml, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str = "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";

/// Every endpoint of PRODUCT.md section 6 (plus the document itself), with the statuses its
/// description must list.
const ENDPOINTS: [(&str, &str, &[u16]); 23] = [
    ("/api/v1/servers", "get", &[200, 400]),
    ("/api/v1/cases", "get", &[200, 400]),
    ("/api/v1/cases/{id}", "get", &[200, 400, 404]),
    ("/api/v1/cases/{id}/ack", "post", &[200, 400, 401, 403, 404, 409]),
    ("/api/v1/cases/{id}/notes", "post", &[200, 400, 401, 403, 404, 409]),
    ("/api/v1/cases/{id}/resolve", "post", &[200, 400, 401, 403, 404, 409]),
    ("/api/v1/cases/{id}/close", "post", &[200, 400, 401, 403, 404, 409]),
    ("/api/v1/maintenance", "get", &[200]),
    ("/api/v1/maintenance", "post", &[201, 400, 401, 403]),
    ("/api/v1/dead-letters", "get", &[200]),
    ("/api/v1/reload", "post", &[200, 401, 403, 409, 422]),
    ("/api/v1/oncall", "get", &[200]),
    ("/api/v1/oncall/overrides", "post", &[201, 400, 401, 403]),
    ("/api/v1/oncall/overrides/{id}", "delete", &[204, 400, 401, 403, 404]),
    ("/api/v1/people/{id}/test", "post", &[202, 400, 401, 403, 404, 409]),
    ("/api/v1/inventory/customers", "get", &[200, 400]),
    ("/api/v1/inventory/customers/{id}", "get", &[200, 404]),
    ("/api/v1/inventory/customers/{id}", "put", &[200, 201, 400, 401, 403, 409, 422]),
    ("/api/v1/inventory/customers/{id}", "delete", &[204, 401, 403, 404, 409]),
    ("/healthz", "get", &[200]),
    ("/readyz", "get", &[200, 503]),
    ("/metrics", "get", &[200]),
    ("/api/v1/openapi.json", "get", &[200]),
];

/// Resolve a local JSON pointer (`#/components/schemas/CaseView`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// Every `$ref` anywhere in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The schema a response or request body uses for `application/json`, if any.
fn json_schema<'a>(doc: &'a Value, content: &'a Value) -> Option<&'a Value> {
    let schema = &content["application/json"]["schema"];
    match schema["$ref"].as_str() {
        Some(r) => resolve(doc, r),
        None => Some(schema).filter(|s| !s.is_null()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_every_endpoint_and_every_reference_resolves() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let text = config_toml(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())]);
    let app = TestApp::spawn(&text).await;

    let response = reqwest::get(format!("http://{}/api/v1/openapi.json", app.addr)).await.expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let doc: Value = serde_json::from_str(&response.text().await.expect("body")).expect("the document is JSON");

    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "OpenAPI 3: {}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "firstwatch");
    assert!(doc["info"]["version"].as_str().is_some_and(|v| !v.is_empty()));

    // Every endpoint, with its statuses; errors use the one error schema.
    let error_schema = resolve(&doc, "#/components/schemas/ErrorBody").expect("the ErrorBody schema");
    assert_eq!(error_schema["properties"]["error"]["type"], "string");
    assert_eq!(error_schema["required"], serde_json::json!(["error"]));
    for (path, method, statuses) in ENDPOINTS {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{} {path} is not described", method.to_uppercase());
        for status in statuses {
            let response = &operation["responses"][status.to_string()];
            assert!(response.is_object(), "{method} {path}: no {status} response");
            assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {status}");
            if (400..500).contains(status) {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {status}");
            }
        }
    }
    let described: usize =
        doc["paths"].as_object().expect("paths").values().map(|p| p.as_object().map_or(0, |m| m.len())).sum();
    assert_eq!(described, ENDPOINTS.len(), "exactly the endpoints above");

    // Write calls: an operator's credential and a body.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["operator_token"]["type"], "http");
    assert_eq!(schemes["operator_token"]["scheme"], "bearer");
    assert_eq!(schemes["session_cookie"]["in"], "cookie");
    assert_eq!(schemes["session_cookie"]["name"], "fw_session");
    for (path, method, _) in ENDPOINTS.iter().filter(|(_, m, _)| *m == "post" || *m == "put") {
        let operation = &doc["paths"][path][method];
        let security = serde_json::json!([{ "operator_token": [] }, { "session_cookie": [] }]);
        assert_eq!(operation["security"], security, "{path}");
        let body = &operation["requestBody"];
        let schema = json_schema(&doc, &body["content"]).unwrap_or_else(|| panic!("{path}: no JSON body schema"));
        assert_eq!(schema["type"], "object", "{path}");
    }
    let notes = &doc["paths"]["/api/v1/cases/{id}/notes"]["post"]["requestBody"];
    assert_eq!(notes["required"], true);
    let note = json_schema(&doc, &notes["content"]).expect("NoteBody");
    assert_eq!(note["required"], serde_json::json!(["text"]));
    assert_eq!(
        doc["paths"]["/api/v1/cases/{id}/ack"]["post"]["requestBody"]["required"], false,
        "ack's body is optional"
    );
    // Reads of fleet or case data: a viewer's or an operator's credential; health and this
    // document: none (the empty requirement).
    for (path, method, _) in ENDPOINTS.iter().filter(|(_, m, _)| *m == "get") {
        let security = &doc["paths"][path][method]["security"];
        let open = ["/healthz", "/readyz", "/api/v1/openapi.json"].contains(path);
        if open {
            assert_eq!(security, &serde_json::json!([{}]), "{path} is open");
        } else if *path == "/metrics" {
            assert_eq!(security, &serde_json::json!([{ "metrics_token": [] }, {}]), "{path}");
        } else {
            assert!(
                security.as_array().is_some_and(|s| s.contains(&serde_json::json!({ "viewer_token": [] }))),
                "{path}"
            );
        }
    }

    // Parameters: the case id in the path, the status filter in the query.
    for path in ["/api/v1/cases/{id}", "/api/v1/cases/{id}/ack", "/api/v1/cases/{id}/close"] {
        let method = if path.ends_with("{id}") { "get" } else { "post" };
        let params = doc["paths"][path][method]["parameters"].as_array().cloned().unwrap_or_default();
        assert!(params.iter().any(|p| p["name"] == "id" && p["in"] == "path" && p["required"] == true), "{path}");
    }
    let params = doc["paths"]["/api/v1/cases"]["get"]["parameters"].as_array().cloned().unwrap_or_default();
    assert!(params.iter().any(|p| p["name"] == "status" && p["in"] == "query" && p["required"] != true));
    for list in ["/api/v1/cases", "/api/v1/servers"] {
        let params = doc["paths"][list]["get"]["parameters"].as_array().cloned().unwrap_or_default();
        for name in ["cursor", "limit"] {
            assert!(params.iter().any(|p| p["name"] == name && p["in"] == "query"), "{list} ?{name}");
        }
    }
    let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
    assert!(metrics.as_object().is_some_and(|c| c.keys().any(|k| k.starts_with("text/plain"))), "{metrics}");

    // The response schemas carry the fields PRODUCT.md section 6 names.
    let ok = |path: &str, method: &str, status: &str| {
        json_schema(&doc, &doc["paths"][path][method]["responses"][status]["content"]).cloned().unwrap_or_default()
    };
    let servers = ok("/api/v1/servers", "get", "200");
    let server =
        resolve(&doc, servers["properties"]["servers"]["items"]["$ref"].as_str().unwrap_or("")).expect("ServerView");
    for field in ["id", "customer", "service", "role", "state", "consecutive_failures", "last_error", "last_probe_at"] {
        assert!(server["properties"][field].is_object(), "servers[].{field}");
    }
    assert!(servers["properties"]["next"].is_object(), "the servers list says where the next page starts");
    assert!(ok("/api/v1/cases", "get", "200")["properties"]["next"].is_object(), "so does the cases list");
    let detail = ok("/api/v1/cases/{id}", "get", "200");
    assert!(detail["properties"]["timeline"].is_object() && detail["properties"]["case"].is_object());
    let case = resolve(&doc, "#/components/schemas/CaseView").expect("CaseView");
    for field in ["id", "severity", "status", "customer", "service", "server", "opened_at"] {
        assert!(case["properties"][field].is_object(), "case.{field}");
    }

    // Every reference resolves, and every security requirement names a scheme.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 20, "references are used: {}", all.len());
    for reference in &all {
        assert!(reference.starts_with("#/"), "only local references: {reference}");
        assert!(resolve(&doc, reference).is_some(), "dangling reference {reference}");
    }
    for operation in doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
        .flat_map(|m| m.as_object())
        .flat_map(|m| m.values())
    {
        for requirement in operation["security"].as_array().into_iter().flatten() {
            for name in requirement.as_object().into_iter().flat_map(|r| r.keys()) {
                assert!(schemes[name].is_object(), "unknown security scheme {name}");
            }
        }
    }

    // Every described (path, method) is routed: none falls through to the 404 or the 405.
    let client = reqwest::Client::new();
    for (path, method, _) in ENDPOINTS {
        let url = format!("http://{}{}", app.addr, path.replace("{id}", "1"));
        let method_of = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("an HTTP method");
        let request = client.request(method_of, &url);
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert!(status != 405 && !body.contains("no such page"), "{method} {path} is not routed: {status} {body}");
    }
    app.stop().await;
}
