//! `pagos <command>`: the terminal side. Each command talks to something already running (a
//! pagos's admin API, the sandbox's simulator, Conekta) and prints its answer for a person, or
//! as JSON with `--json`. Exit codes: 0 done, 1 the other side refused, 2 the command or a
//! setting is wrong, 3 the other side could not be reached.

mod args;
mod conekta_setup;
mod deliveries;
mod http;
mod sandbox_trigger;
mod since;
mod table;

use std::process::ExitCode;

pub const USAGE: &str = "\
usage: pagos [--sandbox]                 run the service (with a built-in Conekta simulator)
       pagos deliveries list [--status pending|failed|delivered] [--reference-id ID]
                             [--target URL] [--storefront NAME] [--limit N]
       pagos deliveries show ID
       pagos deliveries retry ID
       pagos deliveries recover --since 2h|30m|1d|RFC3339|UNIX_SECONDS
       pagos sandbox trigger EVENT --order ORDER_ID
       pagos conekta setup --url https://pagos.example/webhooks/conekta [--api-url URL]
       pagos --version | --help

  deliveries  the admin API of a running pagos (--url, default http://127.0.0.1:8080), with the
              token in PAGOS__ADMIN__TOKEN
  sandbox     the simulator of a `pagos --sandbox` (--url, default PAGOS__SANDBOX__HOST:PORT);
              EVENT is order.paid, order.expired, order.canceled, order.refunded,
              order.charged_back or charge.declined
  conekta     registers pagos's webhook endpoint at Conekta and prints the webhook public key;
              the merchant's private key comes from CONEKTA_PRIVATE_KEY, never from a flag
  --json      print the answer as JSON instead of a table

Configuration comes from PAGOS__* variables (and an optional TOML file named by PAGOS_CONFIG);
see .env.example. Exit codes: 0 done, 1 refused, 2 wrong command or setting, 3 unreachable.";

/// What `pagos …` was asked to do.
pub enum Invocation {
    Serve {
        sandbox: bool,
    },
    /// Text for stdout (help, version) and exit 0.
    Print(String),
    Command(Command),
    /// A command line that means nothing: say why, exit 2.
    Wrong(String),
}

pub enum Command {
    Deliveries(deliveries::Request),
    SandboxTrigger(sandbox_trigger::Trigger),
    ConektaSetup(conekta_setup::Setup),
}

/// Why a command did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The command line or a setting is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The other side answered, and said no (exit 1).
    #[error("{0}")]
    Refused(String),
    /// The other side could not be reached (exit 3).
    #[error("{0}")]
    Unreachable(String),
}

impl Failure {
    fn code(&self) -> u8 {
        match self {
            Failure::Refused(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Unreachable(_) => 3,
        }
    }
}

/// Reads the command line (without the program's name).
pub fn parse(raw: &[String]) -> Invocation {
    let words: Vec<&str> = raw.iter().map(String::as_str).collect();
    let parsed = match words.as_slice() {
        [] => return Invocation::Serve { sandbox: false },
        ["--sandbox"] => return Invocation::Serve { sandbox: true },
        ["--version" | "-V"] => {
            return Invocation::Print(format!("pagos {}", env!("CARGO_PKG_VERSION")))
        }
        ["--help" | "-h" | "help"] => return Invocation::Print(USAGE.to_owned()),
        ["deliveries", rest @ ..] => deliveries::parse(rest).map(Command::Deliveries),
        ["sandbox", "trigger", rest @ ..] => {
            sandbox_trigger::parse(rest).map(Command::SandboxTrigger)
        }
        ["conekta", "setup", rest @ ..] => conekta_setup::parse(rest).map(Command::ConektaSetup),
        [first, ..] => Err(Failure::Usage(format!("unknown command `{first}`"))),
    };
    match parsed {
        Ok(command) => Invocation::Command(command),
        Err(failure) => Invocation::Wrong(format!("{failure}\n\n{USAGE}")),
    }
}

/// Runs a command; prints its answer on stdout and a failure on stderr.
pub async fn run(command: Command) -> ExitCode {
    let outcome = match command {
        Command::Deliveries(request) => deliveries::run(request).await,
        Command::SandboxTrigger(trigger) => sandbox_trigger::run(trigger).await,
        Command::ConektaSetup(setup) => conekta_setup::run(setup).await,
    };
    match outcome {
        Ok(text) => {
            print_out(&text);
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("pagos: {failure}");
            ExitCode::from(failure.code())
        }
    }
}

/// `text` and a newline on stdout. A reader that went away (`pagos … | head`) is no error.
pub fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}

/// An environment variable, unless unset or blank.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_service_help_and_version_are_not_commands() {
        assert!(matches!(parse(&[]), Invocation::Serve { sandbox: false }));
        assert!(matches!(
            parse(&words("--sandbox")),
            Invocation::Serve { sandbox: true }
        ));
        assert!(
            matches!(parse(&words("--version")), Invocation::Print(text) if text.starts_with("pagos "))
        );
        assert!(
            matches!(parse(&words("--help")), Invocation::Print(text) if text.contains("deliveries list"))
        );
    }

    #[test]
    fn an_unknown_command_is_named() {
        assert!(
            matches!(parse(&words("delivery list")), Invocation::Wrong(text) if text.starts_with("unknown command `delivery`"))
        );
        assert!(matches!(
            parse(&words("--sandbox --json")),
            Invocation::Wrong(_)
        ));
    }
}
