//! ZooKeeper's `Commands.runCommand`: an unknown name, then a command that needs a serving
//! server while this one is not, then a protected command's authorization, are answered
//! before the command runs; each refusal names the command as it was asked for.

use std::collections::HashMap;
use std::net::IpAddr;

use super::response::{http_status, CommandResponse};
use super::table::{self, Method};
use super::{access, ensemble, handlers, snapshot, AdminContext};

/// ZooKeeper's not-serving sentence, without the 4lw's newline.
const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// What the HTTP layer sends back.
#[derive(Debug)]
pub(crate) enum Outcome {
    Response(CommandResponse),
    /// The command exists but is not run by this method.
    MethodNotAllowed,
}

/// One call of `name` by `method`.
pub(crate) struct Call<'a> {
    pub(crate) name: &'a str,
    pub(crate) method: Method,
    pub(crate) query: &'a HashMap<String, String>,
    pub(crate) authorization: Option<&'a str>,
    pub(crate) peer: IpAddr,
}

pub(crate) async fn run(ctx: &AdminContext, call: Call<'_>) -> Outcome {
    let Some(spec) = table::find(call.name) else {
        return Outcome::Response(CommandResponse::failed(
            call.name,
            Some(format!("Unknown command: {}", call.name)),
            http_status::OK,
        ));
    };
    if spec.server_required && !ctx.status.server_summary().serving {
        return Outcome::Response(CommandResponse::failed(
            call.name,
            Some(NOT_SERVING.to_owned()),
            http_status::OK,
        ));
    }
    if let Some(request) = spec.auth {
        let refused = access::check(
            call.name,
            request,
            call.authorization,
            call.peer,
            &ctx.auth,
            &ctx.status,
        );
        if let Some(refused) = refused {
            return Outcome::Response(refused);
        }
    }
    if spec.method != call.method {
        return Outcome::MethodNotAllowed;
    }
    let primary = spec.primary();
    let response = match primary {
        "snapshot" => snapshot::snapshot(ctx, call.query).await,
        "restore" => snapshot::restore(ctx),
        _ => match ensemble::run(primary, &ctx.status) {
            Some(response) => response,
            None => match handlers::run(primary, ctx, call.query) {
                Some(response) => response,
                // Every name of the table has a handler (checked by a unit test).
                None => CommandResponse::failed(
                    call.name,
                    Some(format!("Unknown command: {}", call.name)),
                    http_status::OK,
                ),
            },
        },
    };
    Outcome::Response(response)
}
