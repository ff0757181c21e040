//! The staff console (SPEC §9): the built files of `console/dist`, served under `/console/`.
//! It is a plain client of the public API, so nothing here knows a token or a role.

use crate::context::request_id;
use crate::problem::Problem;
use actix_files::Files;
use actix_web::dev::{fn_service, HttpServiceFactory, Service, ServiceRequest};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use std::path::Path;

/// Content-hashed file names change with every build, so they can be cached for good; the
/// entry page names them and must be revalidated.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub const PREFIX: &str = "/console";

pub fn is_console(path: &str) -> bool {
    path == PREFIX || path.starts_with("/console/")
}

/// `/console` redirects to `/console/` so the page's relative asset paths resolve.
pub fn services(dir: &Path) -> impl HttpServiceFactory {
    let files = Files::new("/", dir)
        .index_file("index.html")
        .use_etag(true)
        .use_last_modified(true)
        .default_handler(fn_service(|req: ServiceRequest| async {
            let rid = request_id(req.request());
            let problem = Problem::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("no such file {}", req.path()),
            )
            .request_id(rid.as_deref());
            Ok(req.into_response(problem.into_response()))
        }));
    (
        web::resource(PREFIX).route(web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, "/console/"))
                .finish()
        })),
        web::scope(PREFIX)
            .wrap_fn(|req, srv| {
                let immutable = req.path().starts_with("/console/assets/");
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    let policy = if immutable && res.status().is_success() {
                        IMMUTABLE
                    } else {
                        REVALIDATE
                    };
                    res.headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
                    Ok(res)
                }
            })
            .service(files),
    )
}
