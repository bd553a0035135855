"""All settings in one place, read from the environment (prefix ``KOPILKA_``)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KOPILKA_", extra="ignore")

    #: "production" refuses to start without `secret_keys`; "development" and "test" make a
    #: key file in `data_dir`.
    env: Environment = Environment.development
    #: A PostgreSQL URL (postgresql://user:pass@host/db). Unset: run the embedded server.
    database_url: str | None = None
    #: Where the embedded server keeps its data, and other local state.
    data_dir: Path = Path("var")
    #: The tenant used by the CLI when no portal is named (self-hosted single company).
    default_portal: str = "local"
    #: DEBUG, INFO, WARNING or ERROR (logs are structured, secrets redacted).
    log_level: str = "INFO"
    #: Fernet keys, comma-separated, that encrypt the secrets stored in the database: the first
    #: encrypts, all decrypt (docs/security.md). Unset: development and test make and use
    #: ``data_dir/secret.key``; production refuses to start.
    secret_keys: SecretStr | None = None

    # --- Bitrix24 ---
    #: OAuth application credentials (local or Market app); unused with incoming webhooks.
    b24_client_id: str | None = None
    b24_client_secret: SecretStr | None = None
    #: Bitrix24's OAuth server, which proves app installs and refreshes their tokens.
    b24_token_url: str = "https://oauth.bitrix.info/oauth/token/"  # noqa: S105 (a URL)
    #: Our pacing per portal (DESIGN D6): one request per interval after a burst. The portal's
    #: own bucket is 2/s with a burst of 50 (Enterprise: 5/s, 250).
    b24_interval: float = 0.5
    b24_burst: int = 10
    #: Seconds one Bitrix24 call may take.
    b24_timeout: float = 30.0
    #: Explain every ledger change on the deal's timeline (one write per change).
    b24_timeline_comments: bool = True
    #: Workers beat every `worker_heartbeat` s; a worker silent for `worker_stalled_after` s is
    #: taken for dead and its running job is re-queued (it is idempotent).
    worker_heartbeat: float = 5.0
    worker_stalled_after: float = 30.0
    #: The public URL of this Kopilka (for event handlers bound in app mode).
    public_url: str = "http://127.0.0.1:8000"
    #: Bitrix24's JS library (BX24) for the pages Kopilka shows inside the portal (docs
    #: /bitrix24.md); tests and the demo point it at the emulator's local copy.
    b24_js_url: str = "https://api.bitrix24.com/api/v1/"
    #: Seconds a page opened inside the portal stays signed in (never longer than the user's
    #: own Bitrix24 token, AUTH_EXPIRES).
    b24_frame_session_ttl: int = Field(default=3600, ge=60)
    #: What an app uninstall (ONAPPUNINSTALL) purges of the portal's Bitrix24 credentials and
    #: caches: "clean" when its administrator ticks «удалить данные» (CLEAN), "keep" never,
    #: "purge" always. The ledger is never purged (docs/bitrix24.md, "Uninstalling").
    b24_uninstall: Literal["clean", "keep", "purge"] = "clean"
    #: Rejected /b24 requests recorded per source address and in all per minute; rows kept.
    b24_rejections_per_source: int = 20
    b24_rejections_per_minute: int = 200
    b24_rejections_kept: int = 10_000
    #: Offline event delivery (`kopilka portal events offline`; docs/bitrix24.md): seconds
    #: between two readings of a portal's queue. ONOFFLINEEVENT, when the portal can reach
    #: Kopilka, has it read at once, at most once per `b24_offline_signal_seconds`.
    b24_offline_poll_seconds: float = Field(default=30.0, gt=0)
    b24_offline_signal_seconds: int = Field(default=5, ge=0)
    #: Offline events reserved per `event.offline.get` (a run reads at most 20 such pages).
    b24_offline_batch: int = Field(default=50, ge=1, le=1000)

    # --- Every web request ---
    #: Largest request body accepted, in bytes (a Bitrix24 event is a few KB): larger gets 413.
    max_body_bytes: int = 131_072

    # --- Cards, registration and notifications (issue 5; docs/notifications.md) ---
    #: SMS: "auto" takes SMS.ru when its api_id is set, else UniSender when its key and SMS
    #: sender are set; "none" turns SMS off.
    sms_provider: Literal["auto", "smsru", "unisender", "none"] = "auto"
    #: SMS.ru: the account's api_id, and its address (tests point it at a local fake).
    smsru_api_id: SecretStr | None = None
    smsru_url: str = "https://sms.ru"
    #: An approved sender name (SMS.ru ``from``); unset: the account's default.
    smsru_sender: str | None = None
    #: UniSender: the API key, its address, and the language of its answers.
    unisender_api_key: SecretStr | None = None
    unisender_url: str = "https://api.unisender.com"
    unisender_lang: Literal["ru", "en", "ua"] = "ru"
    #: UniSender's registered SMS sender (3–11 Latin letters or digits).
    unisender_sms_sender: str | None = None
    #: UniSender e-mail: a verified sender address and the list whose unsubscribe link is added.
    unisender_sender_email: str | None = None
    unisender_sender_name: str = "Kopilka"
    unisender_list_id: int | None = None
    #: E-mail: "auto" takes SMTP when a host is set, else UniSender when its e-mail settings are.
    email_provider: Literal["auto", "smtp", "unisender", "none"] = "auto"
    #: SMTP: the server, its port, the login (if any) and the sender of every e-mail.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Kopilka <noreply@localhost>"
    #: "starttls" (587), "tls" (implicit, 465) or "none" (a local relay).
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    #: Bitrix24 chat notices to the responsible manager and timeline notes.
    notify_b24_chat: bool = True
    notify_b24_timeline: bool = True
    #: SMS are not sent inside these hours of the program's time zone ("" = any time).
    quiet_hours: str = "21:00-09:00"
    #: Seconds one provider call may take; attempts before a message is "failed"; first backoff.
    notify_timeout: float = 10.0
    notify_max_attempts: int = 5
    notify_backoff: float = 30.0
    #: Seconds an accrual's SMS and e-mail wait before they go out: an accrual reversed within
    #: them (a deal won by mistake, then lost) is never told; one reversed later is corrected.
    notify_settle_seconds: float = Field(default=300.0, ge=0)

    # --- Cabinet, public API and admin (issue 6) ---
    #: The portal (member_id) whose customers log in to the cabinet; unset: `default_portal`.
    cabinet_portal: str | None = None
    #: One Kopilka, several shops: the cabinet's host name (no port) → the portal (member_id)
    #: whose cabinet it serves, e.g. `{"bonus.shop-a.ru": "a1b2…"}` (JSON in the environment);
    #: a host not listed serves `cabinet_portal`. Sessions and codes are each portal's own.
    cabinet_hosts: dict[str, str] = {}
    #: Login codes: digits, lifetime, and the lockout after wrong guesses within a window.
    login_code_ttl: int = 300
    login_max_failures_per_phone: int = 5
    login_max_failures_per_addr: int = 20
    login_lockout_window: int = 900
    #: Code requests within the lockout window: per phone, per client address, and in total
    #: (SMS pumping: a client spraying codes to many numbers at the company's expense); a
    #: phone may ask again only after `login_resend_after` seconds (the login page counts down).
    login_max_codes_per_phone: int = 5
    login_max_codes_per_addr: int = 10
    login_max_codes_total: int = 300
    login_resend_after: int = 60
    #: Development only: print login codes to the log when no SMS channel is configured.
    login_codes_to_log: bool = False
    #: Sessions: idle-independent lifetime in seconds (customers; administrators).
    cabinet_session_ttl: int = 3600
    admin_session_ttl: int = 3600
    #: Who may frame the cabinet (CSP frame-ancestors), e.g. "'self' https://shop.example".
    cabinet_frame_ancestors: str = "'self'"
    #: Cookies for https deployments framed by another site: Secure + SameSite=None. Off: Lax.
    cabinet_cross_site_cookies: bool = False
    #: The administrator's password as `kopilka admin hash-password` prints it (pbkdf2_sha256).
    admin_password_hash: SecretStr | None = None
    #: Password hashes (PBKDF2) computed at once, off the event loop; the rest wait their turn.
    admin_hash_threads: int = 2
    #: A manual grant in the admin above this many points waits for a second person (an owner
    #: who did not ask for it) to approve it (issue 18, maker-checker); 0: every grant waits.
    admin_grant_approval_above: int = Field(default=1000, ge=0)
    #: Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed
    #: (comma-separated IPs or networks, "*" for any). Empty: no forwarded header is believed.
    trusted_proxies: str = ""
    #: Cookies with `Secure`: None follows the request's scheme (https, as a trusted proxy
    #: says); True or False forces it.
    secure_cookies: bool | None = None

    # --- Apple Wallet (issue 19; docs/wallet.md) ---
    #: The Pass Type ID (``pass.ru.example.loyalty``) the passes are issued under; unset: no
    #: Apple Wallet (the cabinet shows no button, the PassKit routes answer 404).
    wallet_apple_pass_type_id: str | None = None
    #: The Apple Developer team id (10 characters, the certificate's OU).
    wallet_apple_team_id: str | None = None
    #: The Pass Type ID certificate (PEM) and its private key (PEM; the password, if any, in
    #: `wallet_apple_key_password`): they sign the passes, and authenticate to APNs unless
    #: `apns_key_file` is set.
    wallet_apple_cert_file: Path | None = None
    wallet_apple_key_file: Path | None = None
    wallet_apple_key_password: SecretStr | None = None
    #: Apple's WWDR intermediate that issued the certificate (PEM or DER; G4 since 2022).
    wallet_apple_wwdr_file: Path | None = None
    #: A folder with the pass's images (icon.png, icon@2x.png, logo.png, strip.png, ...);
    #: unset, or without icon.png: a plain icon in the card's colour is made.
    wallet_apple_images_dir: Path | None = None
    #: The public HTTPS address of the PassKit web service as devices reach it, without a
    #: trailing slash: Kopilka's own address + ``/wallet/apple`` (e.g.
    #: ``https://bonus.example.ru/wallet/apple``). Unset: passes are never updated.
    wallet_apple_web_service_url: str | None = None
    #: Seconds the ledger changes of a device's passes are gathered into one push.
    wallet_apple_push_coalesce_seconds: int = Field(default=60, ge=0)
    #: Days a link to the pass (sent by SMS or e-mail) stays valid.
    wallet_apple_link_days: int = Field(default=7, ge=1, le=90)
    #: The APNs server (tests point it at the local fake). Pass updates go to production.
    apns_url: str = "https://api.push.apple.com"
    #: Token authentication: the APNs key (.p8) and its 10-character key id (the team id is
    #: `wallet_apple_team_id`). Unset: the Pass Type ID certificate is the TLS client cert.
    apns_key_file: Path | None = None
    apns_key_id: str | None = None
    #: A CA file that APNs' certificate is checked against instead of the system's (tests).
    apns_ca_file: Path | None = None
    #: Seconds one push may take.
    apns_timeout: float = 10.0

    # --- Operations: outages, overload, operator surfaces (issue 16; docs/operations.md) ---
    #: Seconds a client is told to wait (``Retry-After``) when the database is unreachable.
    db_retry_after: int = 10
    #: A worker that lost the database tries again after this many seconds, doubling up to
    #: `reconnect_max_delay`.
    reconnect_first_delay: float = 0.5
    reconnect_max_delay: float = 10.0
    #: With the embedded server: seconds between checks that it runs (restarted if it died).
    embedded_check_interval: float = 5.0
    #: On SIGTERM, seconds running jobs may take to finish before they are aborted.
    worker_shutdown_timeout: float = 20.0
    #: Requests handled at once by one process (health and metrics not counted); beyond it the
    #: answer is 503 with ``Retry-After: overload_retry_after`` at once. 0: no bound.
    max_in_flight: int = 32
    overload_retry_after: int = 1
    #: `/metrics` on the public port asks for ``Authorization: Bearer <metrics_token>``;
    #: `metrics_listen` ("127.0.0.1:9464") serves it apart, on an address of its own. Neither
    #: set: `/metrics` is not served.
    metrics_token: SecretStr | None = None
    metrics_listen: str | None = None
    #: Seconds the ledger gauges of `/metrics` are kept before they are read again.
    metrics_cache_seconds: float = 10.0

    # --- Google Wallet (issue 19; docs/wallet.md) ---
    #: Offer the customer's card in Google Wallet. Off: nothing is sent to Google, and the
    #: cabinet's link answers 404 (whether a Russian issuer may use Google Wallet is the
    #: business's question, not the code's).
    google_wallet_enabled: bool = False
    #: The issuer id of the Google Pay & Wallet Console (digits).
    google_wallet_issuer_id: str | None = None
    #: The service account's JSON key file (as the Google Cloud console gives it); the
    #: account must be allowed to the issuer. Keep it readable by Kopilka only.
    google_wallet_key_file: Path | None = None
    #: Where the service account's token is asked for; unset: the key file's `token_uri`.
    #: Tests point it at the local fake.
    google_wallet_token_uri: str | None = None
    #: The Wallet REST API; tests point it at the local fake.
    google_wallet_api_url: str = "https://walletobjects.googleapis.com/walletobjects/v1"
    #: The card's logo, an https address Google can read (a square PNG, 660×660 advised).
    google_wallet_logo_url: str | None = None
    #: Sites allowed to show the "Add to Google Wallet" button (comma-separated origins);
    #: unset: `public_url`. A link sent by SMS or e-mail works without it.
    google_wallet_origins: str = ""
    #: Seconds a card waits after its first unsent change, so that many ledger changes make
    #: one update (Google allows few per card).
    google_wallet_settle_seconds: float = Field(default=60.0, ge=0)
    #: Updates shown to the holder as a notification per card in 24 hours (Google's limit: 3);
    #: the others change the card silently.
    google_wallet_notify_per_day: int = Field(default=3, ge=0, le=3)
    #: Seconds one call to Google may take; a failed update is tried again after
    #: `google_wallet_retry_seconds` (doubling up to an hour).
    google_wallet_timeout: float = 10.0
    google_wallet_retry_seconds: float = Field(default=60.0, gt=0)
    # --- A restaurant on iiko (issue 20; docs/iiko.md) ---
    #: Seconds a wallet write whose answer was lost waits to show up among the wallet's
    #: transactions before it is taken as lost (nothing more is written to that wallet meanwhile).
    iiko_push_grace_seconds: int = 120
    #: The least gap between two calls to iikoCloud, in seconds (its rate limits are per login).
    iiko_min_interval: float = 0.2
    #: Seconds an iikoCloud token is used before a new one is asked (it lives an hour).
    iiko_token_max_age: int = 900
    #: The ``Timeout`` header: seconds iikoCloud waits for the restaurant's terminal.
    iiko_terminal_timeout: int = 15

    def uvicorn_proxy(self) -> dict[str, Any]:
        """uvicorn's options for X-Forwarded-For/-Proto: believed only from ``trusted_proxies``
        (uvicorn's own default believes 127.0.0.1, which lets a local client forge its address).
        Every uvicorn.Config that serves Kopilka takes them."""
        trusted = self.trusted_proxies.strip()
        return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
