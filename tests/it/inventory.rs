//! The fleet beyond one file (PRODUCT.md section 13): `include` globs read in path order,
//! errors reported in the included file's own terms, and the file each customer came from.

use std::path::Path;

use firstwatch::config::Config;

const MAIN: &str = "include = [\"customers.d/*.toml\"]\n\n[[customers]]\nid = \"acme\"\n\
                    [[customers.services]]\nid = \"shop\"\n[[customers.services.servers]]\n\
                    id = \"acme-1\"\ntarget = \"http://127.0.0.1:9/health\"\n";

fn customer(id: &str, server: &str, target: &str) -> String {
    format!(
        "[[customers]]\nid = \"{id}\"\n[[customers.services]]\nid = \"web\"\n\
         [[customers.services.servers]]\nid = \"{server}\"\ntarget = \"{target}\"\n"
    )
}

/// A main file and `customers.d/` with the given files; returns the folder and the main path.
fn files(main: &str, included: &[(&str, String)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temporary folder");
    std::fs::create_dir(dir.path().join("customers.d")).expect("customers.d");
    for (name, text) in included {
        std::fs::write(dir.path().join("customers.d").join(name), text).expect("write include");
    }
    let path = dir.path().join("firstwatch.toml");
    std::fs::write(&path, main).expect("write main");
    (dir, path)
}

fn refusals(path: &Path) -> Vec<String> {
    match Config::load(path) {
        Ok(_) => panic!("{} should be refused", path.display()),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn included_customers_join_the_main_files_in_path_order_and_remember_their_file() {
    let (_dir, path) = files(
        MAIN,
        &[
            ("b.toml", customer("globex", "globex-1", "http://127.0.0.1:9/b")),
            ("a.toml", customer("initech", "initech-1", "tcp://127.0.0.1:9")),
            ("notes.txt", "not toml at all".to_string()),
        ],
    );
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<(&str, Option<&str>)> =
        config.customers.iter().map(|c| (c.id.as_str(), c.source.as_deref())).collect();
    assert_eq!(
        ids,
        [("acme", None), ("initech", Some("customers.d/a.toml")), ("globex", Some("customers.d/b.toml"))],
        "the main file's first, then the includes in path order; other files ignored"
    );
    assert_eq!(config.fleet().count(), 3);
}

#[test]
fn an_error_in_an_included_file_names_that_file_and_its_own_key_path() {
    let (_dir, path) = files(
        MAIN,
        &[
            ("a.toml", customer("initech", "initech-1", "ftp://127.0.0.1/x")),
            ("b.toml", customer("acme", "acme-2", "http://127.0.0.1:9/b")),
        ],
    );
    let errors = refusals(&path);
    assert!(
        errors.iter().any(|e| e.starts_with("customers.d/a.toml: customers[0].services[0].servers[0].target: ")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with("customers.d/b.toml: customers[0].id: ")
            && e.contains("duplicate customer id \"acme\"")
            && e.contains("first at customers[0]")),
        "ids are unique across files: {errors:#?}"
    );
}

#[test]
fn an_included_file_holds_customers_only_and_a_bad_glob_is_an_error() {
    let (_dir, path) = files(MAIN, &[("a.toml", "[server]\nlisten = \"0.0.0.0:80\"\n".to_string())]);
    let errors = refusals(&path);
    assert!(errors.iter().any(|e| e.starts_with("customers.d/a.toml: ") && e.contains("server")), "{errors:#?}");

    let (_dir, path) = files(&MAIN.replace("customers.d/*.toml", "customers.d/[.toml"), &[]);
    let errors = refusals(&path);
    assert!(errors.iter().any(|e| e.starts_with("include[0]: not a valid glob")), "{errors:#?}");

    let refused = Config::from_toml(MAIN, |_| None).map(|_| ()).map_err(|e| e.to_string());
    assert!(refused.as_ref().is_err_and(|e| e.contains("include[0]")), "{refused:?}");
}
