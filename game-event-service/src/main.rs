use game_event_service::configuration::Settings;
use game_event_service::startup::Application;
use game_event_service::telemetry::get_logger;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let logger = get_logger(&settings.app.log_level);
    let app = Application::build(settings, logger.clone()).await?;
    app.run_until_stopped().await?;
    drop(logger);
    Ok(())
}
