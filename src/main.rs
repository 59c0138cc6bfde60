use pagos::cli::{self, Invocation};
use pagos::settings::{LogFormat, Settings};
use pagos::startup::{Application, StartError};
use std::process::ExitCode;

/// The exit code of a start stopped by a wrong setting.
const BAD_SETTING: u8 = 2;

#[actix_web::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sandbox_mode = match cli::parse(&args) {
        Invocation::Serve { sandbox } => sandbox,
        Invocation::Print(text) => {
            cli::print_out(&text);
            return ExitCode::SUCCESS;
        }
        Invocation::Wrong(text) => {
            eprintln!("pagos: {text}");
            return ExitCode::from(BAD_SETTING);
        }
        Invocation::Command(command) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            return cli::run(command).await;
        }
    };
    // awc names no TLS crypto provider; make ring the process default before any client exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The settings name the log format, so they are read before anything is logged.
    let loaded = Settings::load();
    let format = match &loaded {
        Ok(loaded) => loaded.settings.log,
        Err(_) => LogFormat::Json,
    };
    let _telemetry = pagos::telemetry::init(std::io::stdout, "info", format);
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return bad_setting(&error),
    };
    for key in &loaded.unknown_keys {
        tracing::warn!(setting = %key, "unknown setting ignored (misspelled?)");
    }
    let mut settings = loaded.settings;
    // Held to the end of `main`: a sandbox's temporary records go when it drops.
    let records = if sandbox_mode {
        match pagos::sandbox::local_defaults(&mut settings) {
            Ok(records) => Some(records),
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "cannot start the sandbox");
                eprintln!("pagos: cannot start the sandbox: {error:#}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let sandbox = if sandbox_mode {
        match pagos::sandbox::start(&mut settings) {
            Ok(sandbox) => Some(sandbox),
            Err(error) => {
                let port = settings.sandbox.port.unwrap_or(0).to_string();
                let error = pagos::settings::SettingsError::new(
                    "PAGOS__SANDBOX__PORT",
                    &port,
                    format!("{error:#}"),
                );
                return bad_setting(&error);
            }
        }
    } else {
        None
    };
    let host = settings.server.host.clone();
    let admin_token = settings.admin.token.clone();
    let announced = settings.clone();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(StartError::Setting(error)) => return bad_setting(&error),
        Err(error) => {
            tracing::error!(error = %error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    if let (Some(sandbox), Some(records)) = (&sandbox, &records) {
        pagos::sandbox::connect(sandbox, &host, app.port(), admin_token.as_ref());
        pagos::sandbox::announce(sandbox, &announced, app.port(), records);
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

/// One line naming the setting and its value (a secret's is never shown), and exit code 2.
fn bad_setting(error: &dyn std::fmt::Display) -> ExitCode {
    tracing::error!(error = %error, "cannot start: a setting is wrong");
    eprintln!("pagos: cannot start: {error}");
    ExitCode::from(BAD_SETTING)
}
