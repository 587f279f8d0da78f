-- Alert channels: a webhook subscription gets a kind. Besides Standard Webhooks, duty staff in
-- China are reached through group robots of WeCom (企业微信), DingTalk and Feishu, and by e-mail.
-- Every kind goes through the same outbox, dispatcher, retries and delivery log; only the
-- sender differs (api/webhooks/senders.py).
ALTER TABLE webhook_endpoint
    ADD COLUMN kind text NOT NULL DEFAULT 'standard'
        CHECK (kind IN ('standard', 'wecom', 'dingtalk', 'feishu', 'email')),
    -- What a kind needs beside the URL and the secret: for e-mail the sender and recipients
    -- and the SMTP user name. Never a password: that is the secret.
    ADD COLUMN channel_config jsonb NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(channel_config) = 'object'),
    -- The language of rendered notifications; NULL is the park's default (zh-CN).
    ADD COLUMN language text CHECK (language IN ('zh-CN', 'en'));

-- The secret is what the kind signs or logs in with, kept in clear like the whsec_ secrets
-- (signing needs it): a whsec_ secret for Standard Webhooks, the robot's signing secret for
-- DingTalk ("SEC...") and Feishu, none for WeCom (its key is in the URL), the SMTP password
-- (if the server asks for one) for e-mail.
ALTER TABLE webhook_endpoint ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE webhook_endpoint DROP CONSTRAINT webhook_endpoint_secret_check;
ALTER TABLE webhook_endpoint ADD CONSTRAINT webhook_endpoint_secret_check CHECK (
    CASE kind
        WHEN 'standard' THEN secret LIKE 'whsec\_%'
        WHEN 'dingtalk' THEN length(secret) BETWEEN 1 AND 500
        WHEN 'feishu' THEN length(secret) BETWEEN 1 AND 500
        WHEN 'wecom' THEN secret IS NULL
        ELSE secret IS NULL OR length(secret) BETWEEN 1 AND 500
    END);
-- Only Standard Webhooks rotate with a grace period (both signatures are sent).
ALTER TABLE webhook_endpoint ADD CONSTRAINT webhook_endpoint_rotation_kind
    CHECK (previous_secret IS NULL OR kind = 'standard');
ALTER TABLE webhook_endpoint ADD CONSTRAINT webhook_endpoint_url_scheme CHECK (
    CASE WHEN kind = 'email' THEN url ~ '^smtps?://' ELSE url ~* '^https?://' END);

-- Sends to a rate-limited channel (DingTalk and WeCom robots: 20 a minute; Feishu: 100 a
-- minute and 5 a second). A dispatcher takes a slot, under a lock of the endpoint row, before
-- it sends; when the window is full the delivery waits for the next free slot instead of
-- being sent (and refused by the service) or dropped. Slots older than the longest window are
-- removed as new ones are taken.
CREATE TABLE webhook_send_slot (
    endpoint_id text NOT NULL REFERENCES webhook_endpoint (endpoint_id) ON DELETE CASCADE,
    sent_at     timestamptz NOT NULL,
    delivery_id bigint NOT NULL
);
CREATE INDEX webhook_send_slot_idx ON webhook_send_slot (endpoint_id, sent_at DESC);

-- The public view gains the kind, the language and the channel configuration (no secret).
CREATE OR REPLACE VIEW webhook_endpoint_public AS
SELECT endpoint_id, url, description, event_types, enterprise_id, enabled, disabled_reason,
       disabled_at,
       CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END
           AS previous_secret_valid_until,
       created_at, created_by, updated_at, kind, channel_config, language
  FROM webhook_endpoint;
