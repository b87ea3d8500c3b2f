//! `/dashboard`: the web app (SPEC §10). Placeholder until the app lands.

use axum::Router;

/// What the dashboard's pages need to know about the deployment.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// Where the edge answers viewers (`--edge-url`), for the page's CSP.
    pub edge_url: String,
}

/// Routes under `/dashboard`.
pub fn router(_config: DashboardConfig) -> Router {
    Router::new()
}
