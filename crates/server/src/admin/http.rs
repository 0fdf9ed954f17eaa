//! The routes: `<commandURL>` and `<commandURL>/` list the commands, `<commandURL>/<name>`
//! runs one (GET, or POST for `restore`); anything else is 404, as Jetty answers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, Method as HttpMethod, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::idle::Caller;
use super::run::{self, Call, Outcome};
use super::table::{self, Method};
use super::AdminContext;

pub(crate) fn router(ctx: Arc<AdminContext>) -> Router {
    Router::new().fallback(handle).with_state(ctx)
}

async fn handle(
    State(ctx): State<Arc<AdminContext>>,
    ConnectInfo(Caller(peer)): ConnectInfo<Caller>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let method = match method {
        HttpMethod::GET => Method::Get,
        HttpMethod::POST => Method::Post,
        _ => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
    };
    let base = ctx.settings.command_url.trim_end_matches('/');
    let Some(rest) = uri.path().strip_prefix(base) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let name = match rest {
        "" | "/" => {
            return (
                [(header::CONTENT_TYPE, "text/html;charset=utf-8")],
                table::links(base),
            )
                .into_response()
        }
        rest => match rest.strip_prefix('/') {
            Some(name) => name,
            // `/commandsX` is not under the servlet's path.
            None => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    // The servlet's parameters: a query it cannot parse leaves none.
    let query = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let call = Call {
        name,
        method,
        query: &query,
        authorization,
        peer: peer.ip(),
    };
    match run::run(&ctx, call).await {
        Outcome::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        Outcome::Response(response) => {
            let status =
                StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut builder = Response::builder().status(status);
            for (name, value) in &response.headers {
                builder = builder.header(*name, value);
            }
            let built = match response.stream {
                Some(bytes) => builder
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .body(Body::from(bytes)),
                None => builder
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(response.to_json())),
            };
            built.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}
