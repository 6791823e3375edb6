//! The configuration file: `--config FILE` or `CONFIG_FILE`, `KEY=VALUE` lines as in a
//! Dify `.env`, with the environment winning over it. Run through the real binary.

use std::path::Path;
use std::process::{Command, Output};

fn migrate(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_console-server"));
    command
        .arg("migrate")
        .args(args)
        .current_dir(dir)
        .env_remove("DATA_DIR")
        .env_remove("DATABASE_URL")
        .env_remove("CONFIG_FILE")
        .env("RUST_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run console-server")
}

fn write_config(dir: &Path, data_dir: &Path) -> std::path::PathBuf {
    let file = dir.join("console.env");
    std::fs::write(
        &file,
        format!(
            "# settings for console-server\nDATA_DIR=\"{}\"\nSOME_DIFY_ONLY_KEY=ignored\n",
            data_dir.display()
        ),
    )
    .expect("write config");
    file
}

#[test]
fn the_file_sets_what_the_environment_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let from_file = dir.path().join("from-file");
    let config = write_config(dir.path(), &from_file);

    let out = migrate(
        dir.path(),
        &["--config", config.to_str().expect("utf-8")],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(from_file.join("console.db").exists());

    // The same file named by CONFIG_FILE instead of the flag.
    std::fs::remove_dir_all(&from_file).expect("clean");
    let out = migrate(dir.path(), &[], &[("CONFIG_FILE", &config)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(from_file.join("console.db").exists());
}

#[test]
fn the_environment_wins_over_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let from_file = dir.path().join("from-file");
    let from_env = dir.path().join("from-env");
    let config = write_config(dir.path(), &from_file);

    let out = migrate(
        dir.path(),
        &["--config", config.to_str().expect("utf-8")],
        &[("DATA_DIR", &from_env)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(from_env.join("console.db").exists());
    assert!(!from_file.exists());
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = migrate(dir.path(), &["--config", "no-such.env"], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such.env"), "{stderr}");
    assert!(!dir.path().join("data").exists());
}
