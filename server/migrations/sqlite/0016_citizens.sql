-- Citizens' pages and notifications (issue 16). Kept in step with ../postgres/0016_citizens.sql.

-- Every message the Notifier sends (SMS, push), recorded without its personal content:
-- `recipient` is a user id (`user:…`), a mobile's pseudonym (`mobile:` + 16 hex of its
-- hash) or a device (`device:…`). `target` (the number or device) and `params` (the
-- template's values: a one-time code, a survey link) are kept only until the message is
-- delivered or abandoned, then set to NULL. `dedup_key` makes an event's message once.
CREATE TABLE notifications (
    id           TEXT PRIMARY KEY NOT NULL,
    dedup_key    TEXT UNIQUE,
    kind         TEXT NOT NULL,
    channel      TEXT NOT NULL,
    template     TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    case_id      TEXT,
    target       TEXT,
    params       TEXT,
    created_at   BIGINT NOT NULL,
    next_at      BIGINT NOT NULL,
    attempts     BIGINT NOT NULL,
    delivered_at BIGINT,
    abandoned_at BIGINT,
    last_error   TEXT
);
CREATE INDEX notifications_due ON notifications (delivered_at, abandoned_at, next_at);
CREATE INDEX notifications_by_case ON notifications (case_id);

-- One-time codes sent to a mobile (its hash), one live code per purpose (FILE, FOLLOW):
-- a new code replaces the old. Only the code's hash is kept.
CREATE TABLE public_codes (
    mobile_hash TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    tries       BIGINT NOT NULL,
    PRIMARY KEY (mobile_hash, purpose)
);

-- Cases filed on the public page: whose mobile (to tell the applicant, to follow the case),
-- which of the applicant's messages went out (',ACCEPTED,DISPATCHED,'), the follow-up
-- survey's single-use token (its hash) and when it was answered.
CREATE TABLE public_filings (
    case_id            TEXT PRIMARY KEY NOT NULL,
    mobile_hash        TEXT NOT NULL,
    mobile             TEXT NOT NULL,
    filed_at           BIGINT NOT NULL,
    notified           TEXT NOT NULL,
    survey_hash        TEXT UNIQUE,
    survey_answered_at BIGINT
);
CREATE INDEX public_filings_by_mobile ON public_filings (mobile_hash, filed_at);

-- Staff mobiles for deadline and supervision messages (users without one get none).
CREATE TABLE staff_mobiles (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    mobile  TEXT NOT NULL
);
