-- The single sign-on identity linked to an account: the ID token's issuer
-- and subject (Entra: tenant and object id). Sign-in matches on it, never
-- on an email address.
ALTER TABLE users ADD COLUMN oidc_subject TEXT NOT NULL DEFAULT '';
