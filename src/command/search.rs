//! Message search (docs/search.md): who may search what, checked against the views, then run on
//! this node's index.

use super::{access, CommandError, Result};
use crate::auth::Caller;
use crate::search::{Filters, Page, Request, Scope};
use crate::state::AppState;
use concierge_events::Role;

/// Runs a search for `caller`, in their scope: a customer's queries keep only their own
/// conversations' messages (never a note), an admin's everything.
///
/// # Errors
/// 403 for a service token or another customer's conversation, 404 for an unknown conversation,
/// 500 when the index cannot be read.
pub async fn search(app: &AppState, caller: &Caller, filters: Filters) -> Result<Page> {
    let scope = match caller.role {
        Role::Admin => Scope::Admin,
        Role::Customer => Scope::Customer(caller.user_id.clone()),
        Role::Service => {
            return Err(CommandError::Forbidden(access::SERVICE_FORBIDDEN.into()));
        }
    };
    if let Some(id) = &filters.conversation {
        access::conversation(app, caller, id)?;
    }
    let request = Request { scope, filters };
    let started = std::time::Instant::now();
    let page = app.search.index.search(request).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the search index");
        CommandError::Search(e)
    })?;
    metrics::histogram!("concierge_search_query_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    Ok(page)
}
