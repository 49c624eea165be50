//! `GET /v1/openapi.json`: the whole HTTP API, described with utoipa from the handlers'
//! own annotations, so the description cannot drift from the routes.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::state::AppState;
use super::{
    audit, auth, cases, console, devices, directory, evidence, health, orgs, public, quarantine,
    rules, stats, sync, tasks, users, warnings,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gridsync center API",
        description = "The county center server: accounts, phone sync (CBOR), the case workflow, \
                       warnings, statistics and audit. Errors are always {\"code\", \"message\"}."
    ),
    paths(
        auth::login, auth::refresh, auth::logout,
        console::create_session, console::current_session, console::end_session,
        sync::sync,
        cases::list, cases::intake, cases::detail, cases::bundle, cases::act, cases::confirm_suggestion,
        cases::add_note, cases::correct, cases::installment_paid, cases::resolve_conflict,
        evidence::status, evidence::upload, evidence::download, evidence::thumbnail,
        tasks::mine,
        rules::list, rules::add, rules::remove,
        warnings::list, warnings::events, warnings::limits, warnings::put_limits,
        stats::stats_json, stats::stats_csv, stats::cases_csv, stats::gbt31000_csv,
        stats::monthly_xlsx,
        audit::list, audit::verify,
        users::list, users::create, users::assign, users::set_password, users::disable,
        orgs::list, orgs::create, orgs::rename, orgs::move_org,
        devices::list, devices::revoke,
        health::healthz, health::readyz, health::metrics, health::signing_keys,
        quarantine::list,
        directory::directory, directory::suggest,
        public::county, public::qr, public::send_code, public::file_case, public::follow,
        public::answer_survey,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign in, token rotation"),
        (name = "users", description = "Accounts: create, role and organisation, passwords, disabling"),
        (name = "administration", description = "The organisation tree and devices (administrators, in their subtree)"),
        (name = "sync", description = "The phone ↔ center exchange (DESIGN §5)"),
        (name = "cases", description = "Cases and their workflow steps"),
        (name = "evidence", description = "Attachments' bytes: resumable upload, download, thumbnails"),
        (name = "workflow", description = "Dispatch rules, time limits, warnings, live events"),
        (name = "statistics", description = "Figures and exports"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "operations", description = "Health and metrics"),
        (name = "public", description = "Citizens without an account: file a case, follow it, answer the follow-up survey"),
    )
)]
pub(crate) struct ApiDoc;

/// The `bearer` security scheme the protected operations name.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
