use auth_service::configuration::Settings;
use auth_service::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let app = Application::build(settings).await?;
    slog::info!(auth_service::telemetry::root(), "listening"; "port" => app.port());
    app.run_until_stopped().await?;
    Ok(())
}
