-- The park's default language for what people read (the live page, reports, notification
-- texts) when a request names none: 'zh-CN' (the parks this system serves are in China) or
-- 'en'. A request's Accept-Language or a user's choice on the page takes precedence.
ALTER TABLE park ADD COLUMN language text NOT NULL DEFAULT 'zh-CN'
    CHECK (language IN ('zh-CN', 'en'));
