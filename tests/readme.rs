//! The README's commands, run as written against a fresh `pagos --sandbox` by
//! `tests/readme/run.sh`: every marked ```sh block in order, in one bash session, failing on the
//! first error answer; and every relative link of README.md and docs/ leads somewhere.

use std::process::Command;

#[test]
fn every_readme_command_runs_against_the_sandbox() {
    let output = Command::new("bash")
        .arg("tests/readme/run.sh")
        .env("PAGOS_BIN", env!("CARGO_BIN_EXE_pagos"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("bash runs tests/readme/run.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown by the test runner when the test fails (or with --nocapture).
    println!("{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "tests/readme/run.sh failed ({})",
        output.status
    );
    assert!(
        stdout.contains("== README: every runnable block ran"),
        "the README's blocks did not all run"
    );
}
