//! The id of the request being served, readable anywhere inside its task.
tokio::task_local! {
    /// Lets error responses carry the request id without threading it through every handler.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}
