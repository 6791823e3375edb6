//! Talks to a running console-server: `cargo run -p console-client --example quickstart -- http://127.0.0.1:5001`

use console_client::console::{Client, Error, types};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:5001".to_string());
    let client = Client::new(&base);

    let features = client.get_system_features().send().await?;
    println!("registration open: {}", features.is_allow_register);

    let status = client.get_setup_status().send().await?;
    if status.step == types::SetupStep::NotStarted {
        let request = types::SetupRequest {
            email: "admin@example.com".try_into()?,
            name: "Admin".try_into()?,
            password: "change-me-1234".try_into()?,
            language: None,
        };
        match client.setup().body(request).send().await {
            Ok(done) => println!("setup: {}", done.result),
            // Every documented error arrives typed, with the server's code and message.
            Err(Error::ErrorResponse(err)) => {
                println!("setup refused: {} ({})", err.code, err.message)
            }
            Err(other) => return Err(other.into()),
        }
    } else {
        println!("already set up at {:?}", status.setup_at);
    }
    Ok(())
}
