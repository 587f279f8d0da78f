-- API keys (issue: API auth and tenancy). Only a SHA-256 of the secret is kept: the key is shown
-- once, at creation. Keys are 256-bit random, so a fast hash is enough (no password stretching).
CREATE TABLE api_key (
    key_id        text PRIMARY KEY CHECK (key_id ~ '^[a-z0-9]{12}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'auditor', 'enterprise')),
    -- An enterprise key sees only its own enterprise; every other role is park-wide.
    enterprise_id text REFERENCES enterprise (enterprise_id),
    scopes        text[] NOT NULL,
    secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL CHECK (length(created_by) > 0),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    revoked_by    text,
    last_used_at  timestamptz,
    CONSTRAINT api_key_tenancy CHECK ((role = 'enterprise') = (enterprise_id IS NOT NULL)),
    CONSTRAINT api_key_revocation CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
