-- Access-token signing keys kept in the database (when no key is given by file or
-- environment). The newest key not retired signs; retired keys still verify the tokens
-- they signed until those expire, then are deleted by the next rotation. The `settings`
-- row `jwt_secret` of earlier versions is moved here at start (by the server, which
-- computes the key id).
CREATE TABLE jwt_keys (
    kid        TEXT PRIMARY KEY NOT NULL,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
