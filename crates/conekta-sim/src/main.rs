//! `conekta-sim`: the simulator as a standalone mock server, for trying any Conekta client
//! offline. It prints the webhook public key (PEM) to trust, and serves until stopped.

use conekta_sim::{Options, Sandbox};
use std::process::ExitCode;

const USAGE: &str = "usage: conekta-sim [--host ADDR] [--port N] [--webhook-url URL] \
[--signing-secret whsec_…] [--shop-name NAME]\n\n  --host            listen address (default 127.0.0.1)\n  \
--port            listen port (default: a free one)\n  --webhook-url     where Conekta's \
events are POSTed, signed in the Digest header\n  --signing-secret  the whsec_ secret the \
inbox (/inbox/notify) verifies Standard Webhooks notifications with\n  --shop-name       \
the shop the checkout and result pages name (default Tienda de prueba)";

/// The options from the command line, or what to say about them.
fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Err(String::new()),
            "--host" | "--port" | "--webhook-url" | "--signing-secret" | "--shop-name" => {}
            other => return Err(format!("unknown option {other}")),
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .clone();
        match flag.as_str() {
            "--host" => options.host = value,
            "--port" => {
                options.port = value
                    .parse()
                    .map_err(|_| format!("--port must be a port number, not {value:?}"))?;
            }
            "--webhook-url" => options.webhook_url = Some(value),
            "--shop-name" => options.shop_name = value,
            _ => options.signing_secret = Some(value),
        }
    }
    Ok(options)
}

#[actix_web::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(problem) if problem.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("conekta-sim: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // awc names no TLS crypto provider; ring is the one this build carries.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sandbox = match Sandbox::start(options.clone()) {
        Ok(sandbox) => sandbox,
        Err(error) => {
            eprintln!("conekta-sim: {error:#}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "conekta-sim: Conekta simulator at {url} (livemode false; any key_… is accepted)\n\
         checkout pages:  {url}/checkout/…   cashier: {cashier}   inbox: {url}/inbox\n\
         result page (success/failure URL): {url}/resultado\n\
         webhooks to:     {target}\n\
         webhook public key (PEM) follows on stdout:",
        url = sandbox.url(),
        cashier = sandbox.cashier_url(),
        target = options
            .webhook_url
            .as_deref()
            .unwrap_or("(none: --webhook-url)"),
    );
    print!("{}", sandbox.webhook_public_key_pem());
    match actix_web::rt::signal::ctrl_c().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("conekta-sim: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn reads_its_options() {
        let options = parse(&args(
            "--port 8081 --webhook-url http://127.0.0.1:8080/webhooks/conekta --signing-secret whsec_x",
        ))
        .unwrap();
        assert_eq!(options.port, 8081);
        assert_eq!(options.host, "127.0.0.1");
        assert_eq!(
            options.webhook_url.as_deref(),
            Some("http://127.0.0.1:8080/webhooks/conekta")
        );
        assert_eq!(options.signing_secret.as_deref(), Some("whsec_x"));
        assert_eq!(options.shop_name, "Tienda de prueba");
        assert_eq!(
            parse(&args("--shop-name Librería")).unwrap().shop_name,
            "Librería"
        );
        assert!(parse(&args("--port eighty")).is_err());
        assert!(parse(&args("--port")).is_err());
        assert_eq!(
            parse(&args("--colour")).unwrap_err(),
            "unknown option --colour"
        );
        assert_eq!(parse(&args("--help")).unwrap_err(), "");
    }
}
