//! The documentation stays true and self-contained: every config key the parser knows is in
//! `docs/configuration.md`, and every link in the README and `docs/` points at a file in the
//! repository.

use std::path::{Path, PathBuf};

use firstwatch::config::ChannelKind;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The TOML key of every field of every `Raw…` struct in `src/config/raw.rs` (a
/// `#[serde(rename = "…")]` above a field names its key; a `#[serde(flatten)]` field holds
/// the keys of a channel type), and every key a channel type takes.
fn config_keys() -> Vec<String> {
    let mut keys = Vec::new();
    let mut rename: Option<String> = None;
    let mut flatten = false;
    for line in read(&repo("src/config/raw.rs")).lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#[serde(rename = \"") {
            rename = rest.split('"').next().map(str::to_string);
            continue;
        }
        if line == "#[serde(flatten)]" {
            flatten = true;
            continue;
        }
        if let Some(field) = line.strip_prefix("pub ").and_then(|l| l.split_once(':')).map(|(name, _)| name) {
            if !field.contains(' ') && !field.contains('(') && !flatten {
                keys.push(rename.take().unwrap_or_else(|| field.to_string()));
            }
        }
        rename = None;
        flatten = false;
    }
    for kind in ChannelKind::ALL {
        let (required, optional) = kind.keys();
        keys.extend(required.iter().chain(optional).map(|k| k.to_string()));
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn every_config_key_is_in_the_configuration_reference() {
    let reference = read(&repo("docs/configuration.md"));
    let keys = config_keys();
    assert!(keys.len() > 50, "the key list was read: {keys:?}");
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !reference.contains(&format!("`{k}`")) && !reference.contains(&format!("[{k}]")))
        .collect();
    assert!(missing.is_empty(), "keys not in docs/configuration.md: {missing:?}");
    let types: Vec<&str> =
        ChannelKind::ALL.iter().map(|k| k.as_str()).filter(|t| !reference.contains(&format!("`{t}`"))).collect();
    assert!(types.is_empty(), "channel types not in docs/configuration.md: {types:?}");
}

#[test]
fn the_readme_and_the_docs_link_only_to_files_in_the_repository() {
    let mut pages = vec![repo("README.md")];
    for entry in std::fs::read_dir(repo("docs")).expect("docs/").flatten() {
        if entry.path().extension().is_some_and(|e| e == "md") {
            pages.push(entry.path());
        }
    }
    assert!(pages.len() >= 6, "README and the docs pages: {pages:?}");
    for page in pages {
        let text = read(&page);
        for (i, _) in text.match_indices("](") {
            let target = text[i + 2..].split(')').next().unwrap_or("");
            let file = target.split('#').next().unwrap_or("");
            assert!(!target.contains("://"), "{}: links outside the repository: {target}", page.display());
            if file.is_empty() {
                continue;
            }
            let resolved = page.parent().expect("folder").join(file);
            assert!(resolved.exists(), "{}: broken link {target}", page.display());
        }
    }
}
