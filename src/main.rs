use pagos::settings::Settings;
use pagos::startup::Application;
use std::process::ExitCode;

const USAGE: &str =
    "usage: pagos [--sandbox] [--help]\n\n  --sandbox  run with a built-in Conekta \
simulator (no account, no internet, no real money)\n\nConfiguration comes from PAGOS__* variables \
(and an optional TOML file named by PAGOS_CONFIG); see .env.example.";

#[actix_web::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sandbox_mode = args.len() == 1 && args[0] == "--sandbox";
    if !args.is_empty() && !sandbox_mode {
        let known = args.len() == 1 && (args[0] == "--help" || args[0] == "-h");
        eprintln!("{USAGE}");
        return if known {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    }
    // awc names no TLS crypto provider; make ring the process default before any client exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _telemetry = pagos::telemetry::init(std::io::stdout, "info");
    let mut settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::from(2);
        }
    };
    let sandbox = if sandbox_mode {
        match pagos::sandbox::start(&mut settings) {
            Ok(sandbox) => Some(sandbox),
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "cannot start the sandbox");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cannot start");
            return ExitCode::FAILURE;
        }
    };
    if let Some(sandbox) = &sandbox {
        pagos::sandbox::connect(sandbox, app.port());
        pagos::sandbox::announce(sandbox, app.port());
    }
    match app.run_until_stopped().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}
