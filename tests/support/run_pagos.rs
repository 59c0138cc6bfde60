//! The real `pagos` binary run as a person runs it: its arguments, a clean environment, and
//! what it printed and how it ended.

/// What one run of the binary printed, and how it ended.
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

/// Runs `pagos ARGS` with only `env` set among PAGOS variables (off the async runtime, which
/// serves the pagos under test).
pub async fn pagos(args: &[&str], env: &[(&str, &str)]) -> Run {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    actix_web::rt::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pagos"));
        command.args(&args);
        for (name, _) in std::env::vars() {
            if name.starts_with("PAGOS") || name.starts_with("CONEKTA") {
                command.env_remove(name);
            }
        }
        command.envs(env);
        let output = command.output().expect("pagos runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&output.stdout).into_owned(),
            err: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}
