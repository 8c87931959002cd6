"""Every tunable of the service, with the launch defaults of DESIGN.md.

Each value can be overridden by an environment variable with the ``FTW_`` prefix;
nested blocks use ``__`` (for example ``FTW_POOL__MAX_SIZE=50``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class LaunchTargets(BaseModel):
    users: int = 400_000
    dau_ratio: float = 0.40
    concurrent_ratio: float = 0.125
    jobs_per_day: int = 1_500
    bids_per_day: int = 7_500
    messages_per_day: int = 15_000


class GrowthPhase(BaseModel):
    name: str
    max_users: int
    start_month: int
    end_month: int


def _default_phases() -> list[GrowthPhase]:
    return [
        GrowthPhase(name="launch", max_users=400_000, start_month=0, end_month=1),
        GrowthPhase(name="stabilize", max_users=500_000, start_month=1, end_month=3),
        GrowthPhase(name="growth", max_users=750_000, start_month=4, end_month=6),
        GrowthPhase(name="scale", max_users=1_000_000, start_month=7, end_month=12),
    ]


class CacheTTL(BaseModel):
    """Seconds each kind of cached data lives."""

    live_stats: int = 30
    fresh_jobs: int = 180
    contractor_stats: int = 600
    job_listings: int = 120
    user_profile: int = 1_800
    territory_metrics: int = 300
    search_results: int = 600


class RateTiers(BaseModel):
    """Requests per minute by caller tier."""

    anonymous: int = 60
    authenticated: int = 200
    pro: int = 500
    operator: int = 1_000


class EndpointLimits(BaseModel):
    """Per-endpoint limits in the `limits` library's notation."""

    post_job: str = "10/hour"
    post_bid: str = "50/hour"
    post_invoice: str = "30/hour"
    post_message: str = "100/hour"
    contractor_invite: str = "10/30days"
    scope: str = "20/hour"
    list_jobs: str = "200/minute"
    list_bids: str = "200/minute"


class AuthLimits(BaseModel):
    """Account routes (sign-in, sign-up, refresh, password reset, e-mail confirmation), in the
    `limits` library's notation: all of them together per client address (IPv6 by /64) and
    per e-mail they target, whatever token the request carries."""

    per_address: str = "20/minute"
    per_email: str = "10/15minutes"


class RequestLimits(BaseModel):
    """Bounds on what a request may send, checked before its body is read (core/edge.py)
    and mirrored at the proxies (deploy/haproxy, the k8s ingress)."""

    json_body_bytes: int = 64 * 1024
    # Multipart framing around each uploaded file (boundary, part headers) allowed on top.
    part_overhead_bytes: int = 16 * 1024
    form_fields: int = 100  # text fields in one form


class LoadTestPacing(BaseModel):
    """Seconds a simulated user thinks between the steps of its journey (`ftw loadtest`).

    Set so the journeys reproduce the launch assumption of DESIGN.md: 20,000 concurrent users
    making about 2,500 requests/s, 7.5 a minute each (a step makes 1.3 requests on average).
    `ftw capacity` takes requests per user from the load test, so this pacing sizes the fleet.
    """

    think_min_s: float = 5.0
    think_max_s: float = 16.0
    operator_think_min_s: float = 8.0  # operators read dashboards, more slowly
    operator_think_max_s: float = 24.0


class PerformanceTargets(BaseModel):
    api_p50_ms: int = 150
    api_p95_ms: int = 800
    page_load_p95_ms: int = 1_500
    uptime_percent: float = 99.5
    max_error_percent: float = 1.0


class PoolSettings(BaseModel):
    """Database pool of one process; PgBouncer multiplexes many of these."""

    min_size: int = 20
    max_size: int = 100  # connections of one process to one server, both pools together
    # The share of max_size that the compiled reads' own pool may open (core/readpool.py);
    # SQLAlchemy's pool keeps the rest. A compiled read holds its connection only for its
    # one statement, a write for its whole transaction, so reads need few.
    read_share: float = Field(default=0.25, gt=0, lt=1)
    connect_timeout_s: float = 30.0
    idle_timeout_s: float = 600.0
    statement_timeout_s: float = 30.0
    # What sits between the app and PostgreSQL, which decides how statements are prepared and
    # how the timeout is set (docs/decisions.md, "Hot path"):
    # - direct: a server connection per pooled connection; prepared statements cached, the
    #   timeout a startup parameter (no round trip per transaction);
    # - pgbouncer: transaction mode before 1.21; no statement cache, statements named by uuid,
    #   the timeout a SET LOCAL in each writing transaction (PgBouncer drops startup parameters);
    # - pgbouncer-prepared: 1.21+ with max_prepared_statements; statements cached (PgBouncer
    #   maps their names), the timeout a SET LOCAL as above.
    pooler: Literal["direct", "pgbouncer", "pgbouncer-prepared"] = "direct"
    statement_cache_size: int = 256  # prepared statements kept per connection
    # A connection idle longer than this is pinged before use; busy ones never are, and a dead
    # one found mid-request is invalidated (an idempotent read is then retried once).
    ping_idle_s: float = 30.0
    pgbouncer_pool_size: int = 25
    pgbouncer_max_clients: int = 10_000


class ReplicaSettings(BaseModel):
    """Read routing: browse and search read from set 1, analytics from set 2, writes and
    everything else from the primary. Empty sets read from the primary."""

    browse: list[str] = Field(default_factory=list)  # FTW_REPLICAS__BROWSE='["postgresql://..."]'
    analytics: list[str] = Field(default_factory=list)
    max_lag_s: float = 5.0  # a replica further behind than this is skipped
    retry_after_s: float = 10.0  # a skipped replica is probed again after this
    probe_interval_s: float = 1.0  # how often a healthy replica's lag is re-measured
    probe_timeout_s: float = 2.0
    read_your_writes_s: float = 10.0  # after a write, its author reads from the primary this long


class Autoscale(BaseModel):
    min_instances: int = 8
    max_instances: int = 50
    scale_up_cpu_percent: int = 70
    scale_up_p95_ms: int = 800
    scale_down_cpu_percent: int = 30
    cooldown_s: int = 180


class CapacityPrices(BaseModel):
    """The app instance's shape and the monthly prices (US dollars) the capacity planner sizes
    and costs a plan with."""

    instance_vcpus: int = 2
    instance_memory_gb: float = 4.0
    instance_month: float = 70.0  # one 2-vCPU, 4 GB app instance
    # Open streams may take this share of an instance's memory; the workers need the rest.
    stream_memory_share: float = 0.25
    database_month: float = 450.0  # the PostgreSQL primary and one replica: the smallest we run
    database_vcpu_month: float = 112.5  # per vCPU the primary needs at peak, its replica included
    pgbouncer_month: float = 30.0
    redis_gb_month: float = 25.0
    database_storage_gb_month: float = 0.115
    object_storage_gb_month: float = 0.023


class Breaker(BaseModel):
    failures: int
    call_timeout_s: float
    reset_timeout_s: float
    successes_to_close: int = 2


class Breakers(BaseModel):
    database: Breaker = Breaker(failures=5, call_timeout_s=10, reset_timeout_s=30)
    llm: Breaker = Breaker(failures=3, call_timeout_s=30, reset_timeout_s=60)
    payments: Breaker = Breaker(failures=5, call_timeout_s=15, reset_timeout_s=30)
    sms: Breaker = Breaker(failures=5, call_timeout_s=10, reset_timeout_s=30)
    email: Breaker = Breaker(failures=5, call_timeout_s=10, reset_timeout_s=30)
    storage: Breaker = Breaker(failures=5, call_timeout_s=15, reset_timeout_s=30)


class PaymentsVendor(BaseModel):
    """Which payments adapter runs; ``base_url`` points the SDK elsewhere (tests, a proxy)."""

    adapter: Literal["sandbox", "stripe"] = "sandbox"
    stripe_api_key: SecretStr | None = None
    base_url: str | None = None  # None: the SDK's own (https://api.stripe.com)


class SmsVendor(BaseModel):
    adapter: Literal["sandbox", "twilio"] = "sandbox"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    from_number: str | None = None
    base_url: str | None = None  # None: https://api.twilio.com


class EmailVendor(BaseModel):
    adapter: Literal["sandbox", "sendgrid"] = "sandbox"
    sendgrid_api_key: SecretStr | None = None
    from_address: str = "no-reply@fairtradeworker.com"
    base_url: str | None = None  # None: https://api.sendgrid.com


class LlmVendor(BaseModel):
    """The estimate refinement; off by default (the offline estimator answers alone)."""

    adapter: Literal["none", "anthropic"] = "none"
    anthropic_api_key: SecretStr | None = None
    model: str = "claude-sonnet-5"
    base_url: str | None = None  # None: https://api.anthropic.com
    max_tokens: int = 400
    # The refined range must stay within these factors of the offline low and high.
    min_factor: float = 0.5
    max_factor: float = 2.0


class StorageVendor(BaseModel):
    """Uploads: a local folder (default) or S3/R2 (refused with 503 while it is down)."""

    adapter: Literal["local", "s3"] = "local"
    bucket: str | None = None
    endpoint_url: str | None = None  # R2, MinIO or a test server; None: AWS
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    public_base_url: str | None = None  # where objects are served; None: /media


class Threshold(BaseModel):
    warning: float
    critical: float


class Alerts(BaseModel):
    p95_seconds: Threshold = Threshold(warning=1.0, critical=2.0)
    error_percent: Threshold = Threshold(warning=2.0, critical=5.0)
    cpu_percent: Threshold = Threshold(warning=70, critical=90)
    db_connections_percent: Threshold = Threshold(warning=80, critical=95)
    memory_percent: Threshold = Threshold(warning=75, critical=90)
    disk_percent: Threshold = Threshold(warning=80, critical=95)
    min_cache_hit_percent: float = 70.0


class FeePolicy(BaseModel):
    """Every fee the platform charges, in integer cents or basis points."""

    contractor_fee_bps: int = 0
    homeowner_platform_fee_cents: int = 2_000
    operator_share_bps: int = 1_000  # of the platform fee
    instant_payout_bps: int = 100
    instant_payout_cap_cents: int = 500
    standard_payout_cents: int = 0
    boost_price_cents: int = 500
    contractor_pro_monthly_cents: int = 5_900
    homeowner_pro_monthly_cents: int = 2_500


class PayoutRules(BaseModel):
    # Earnings (a release from escrow, a paid invoice) stay unavailable for payout this long:
    # a card payment can be charged back for days, and money paid out cannot be taken back.
    hold_days: int = 7


class RuralityBand(BaseModel):
    name: str
    max_population: int | None  # None: no upper bound
    claim_price_cents: int
    monthly_cents: int


def _default_bands() -> list[RuralityBand]:
    return [
        RuralityBand(name="rural", max_population=50_000, claim_price_cents=250_000, monthly_cents=9_900),
        RuralityBand(name="small", max_population=150_000, claim_price_cents=500_000, monthly_cents=19_900),
        RuralityBand(
            name="medium", max_population=500_000, claim_price_cents=1_000_000, monthly_cents=39_900
        ),
        RuralityBand(name="metro", max_population=None, claim_price_cents=2_500_000, monthly_cents=79_900),
    ]


class TerritoryPolicy(BaseModel):
    bands: list[RuralityBand] = Field(default_factory=_default_bands)
    free_claims: int = 300
    territories_per_operator: int = 1


class JobRules(BaseModel):
    title_min: int = 5
    title_max: int = 120
    description_min: int = 20
    description_max: int = 5_000
    max_photos: int = 20
    max_photo_bytes: int = 10 * 1024 * 1024
    photo_types: list[str] = Field(
        default_factory=lambda: ["image/jpeg", "image/png", "image/webp"]  # what jobs/photos.py can rewrite
    )
    # WebP thumbnails made once per upload, at these widths (a narrower photo: its own width).
    thumbnail_widths: list[int] = Field(default_factory=lambda: [320, 960])
    thumbnail_quality: int = 80
    # The post-a-job page shrinks photos in the browser before upload (JavaScript on):
    # longest side and JPEG quality.
    browser_photo_side_px: int = 2048
    browser_photo_quality: float = 0.85
    urgent_deadline_minutes: int = 120
    size_small_max_cents: int = 30_000
    size_medium_max_cents: int = 150_000
    tier_quick_fix_max_cents: int = 50_000
    tier_standard_max_cents: int = 500_000
    page_size_default: int = 20
    page_size_max: int = 100


class BidRules(BaseModel):
    min_factor_of_low: float = 0.5
    max_factor_of_high: float = 3.0
    message_min: int = 10
    lightning_minutes: int = 10
    boost_hours: int = 24
    max_live_boosts_per_job: int = 2


class InvoiceRules(BaseModel):
    reminder_days_overdue: list[int] = Field(default_factory=lambda: [3, 7, 14])
    late_fee_bps: int = 150
    late_fee_after_days: int = 30


class CrmRules(BaseModel):
    follow_up_days: list[int] = Field(default_factory=lambda: [1, 3, 7, 30])


class SwitchSettings(BaseModel):
    """Launch switches and maintenance mode (core/switches)."""

    # How stale a process's copy of the switches may be: a change reaches every instance
    # within it, and a write reads the table at most once per this many seconds.
    ttl_s: float = 5.0
    retry_after_s: int = 120  # Retry-After of a 503 from a switched-off feature or maintenance


class BackupSettings(BaseModel):
    """Where `ftw backup` writes, and how many backups retention keeps."""

    folder: Path | None = None  # default: data_dir / "backups"
    s3_bucket: str | None = None  # also upload there (credentials from the AWS environment)
    s3_prefix: str = "ftw/"
    keep_daily: int = 30
    keep_weekly: int = 12
    keep_monthly: int = 12


class StreamSettings(BaseModel):
    """Live notification streams (server-sent events) and the LISTEN connection feeding them."""

    # LISTEN hears nothing through PgBouncer in transaction mode: point this at the primary
    # directly when FTW_DATABASE_URL goes through PgBouncer. None: the database URL.
    listen_url: str | None = None
    heartbeat_s: float = 15.0  # a ": ping" comment this often keeps proxies from closing idle streams
    retry_ms: int = 3_000  # the SSE retry: field, how long a client waits before reconnecting
    max_per_user: int = 5  # a user's next stream closes its oldest (tabs, dead connections)
    # After losing the LISTEN connection: wait this long, then retry, doubling up to the max.
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0


DEV_SECRET = "dev-only-secret-never-use-in-production-0000"  # noqa: S105 - refused in production
# Keys that were ever committed to this repository's deploy files: public, so refused too.
PUBLISHED_SECRETS = frozenset({"compose-dev-only-secret-change-me-0123456789"})
MIN_SECRET_BYTES = 32


class AuthSettings(BaseModel):
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    # A file holding the signing key (a mounted Docker/Kubernetes secret); wins over secret_key.
    secret_key_file: Path | None = None
    algorithm: str = "HS256"
    access_token_minutes: int = 15
    refresh_token_days: int = 7
    # A refresh token presented again this soon after its rotation gets a sibling token
    # instead of revoking its family: a browser's two requests that both refreshed at once.
    refresh_grace_s: float = 5.0
    password_min_length: int = 12
    # Per-account backoff: from this many failed sign-ins in a row, each further failure
    # closes the account's sign-in for backoff_base_s doubled per failure, up to backoff_max_s.
    backoff_after_failures: int = 5
    backoff_base_s: int = 30
    backoff_max_s: int = 3_600
    password_reset_minutes: int = 30  # a reset link's life
    email_confirm_hours: int = 48  # an e-mail confirmation link's life
    phone_code_minutes: int = 10  # a texted phone verification code's life
    phone_code_attempts: int = 5  # wrong entries before a code stops working

    @model_validator(mode="after")
    def _read_secret_file(self) -> AuthSettings:
        if self.secret_key_file is not None:
            self.secret_key = SecretStr(self.secret_key_file.read_text().strip())
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FTW_", env_nested_delimiter="__", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    # No URL: the app starts a private PostgreSQL from the pgserver wheel under data_dir.
    database_url: str | None = None
    redis_url: str | None = None
    redis_prefix: str = "ftw"  # every cache and rate-limit key starts with it
    cache_enabled: bool = True  # False: every read goes to PostgreSQL (benchmarks, incidents)
    rate_limits_enabled: bool = True
    # Proxies (CIDRs) whose X-Forwarded-For names the client; any other peer is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    data_dir: Path = Path(".ftw")
    media_dir: Path | None = None  # default: data_dir / "media"
    public_url: str = "http://127.0.0.1:8000"
    log_json: bool = False
    log_level: str = "INFO"
    slow_query_ms: int = 200  # statements slower than this are logged with their SQL
    sentry_dsn: SecretStr | None = None  # error tracking when set (FTW_SENTRY_DSN)
    # GET /metrics wants "Authorization: Bearer <token>" when set; production requires it.
    metrics_token: SecretStr | None = None
    # Whether /docs and /openapi.json are served; None: everywhere but production.
    docs_public: bool | None = None
    # On SIGTERM readiness turns 503 this long before the server stops accepting, so the
    # load balancer drains the instance; in-flight requests then get graceful_timeout_s.
    shutdown_delay_s: float = 5.0
    graceful_timeout_s: float = 30.0

    launch: LaunchTargets = LaunchTargets()
    growth_phases: list[GrowthPhase] = Field(default_factory=_default_phases)
    cache_ttl: CacheTTL = CacheTTL()
    rate_limits: RateTiers = RateTiers()
    endpoint_limits: EndpointLimits = EndpointLimits()
    auth_limits: AuthLimits = AuthLimits()
    requests: RequestLimits = RequestLimits()
    performance: PerformanceTargets = PerformanceTargets()
    loadtest: LoadTestPacing = LoadTestPacing()
    pool: PoolSettings = PoolSettings()
    replicas: ReplicaSettings = ReplicaSettings()
    autoscale: Autoscale = Autoscale()
    capacity_prices: CapacityPrices = CapacityPrices()
    breakers: Breakers = Breakers()
    alerts: Alerts = Alerts()
    fees: FeePolicy = FeePolicy()
    payouts: PayoutRules = PayoutRules()
    territories: TerritoryPolicy = TerritoryPolicy()
    jobs: JobRules = JobRules()
    bids: BidRules = BidRules()
    invoices: InvoiceRules = InvoiceRules()
    crm: CrmRules = CrmRules()
    auth: AuthSettings = AuthSettings()
    streams: StreamSettings = StreamSettings()
    backup: BackupSettings = BackupSettings()
    payments: PaymentsVendor = PaymentsVendor()
    sms: SmsVendor = SmsVendor()
    email: EmailVendor = EmailVendor()
    llm: LlmVendor = LlmVendor()
    storage: StorageVendor = StorageVendor()
    switches: SwitchSettings = SwitchSettings()
    # Vendors production may run on a sandbox adapter (FTW_ALLOW_SANDBOX=sms,email); any other
    # sandbox (payments, sms, email; storage on the local disk) stops production at start-up.
    allow_sandbox: Annotated[set[str], NoDecode] = Field(default_factory=set)

    @field_validator("allow_sandbox", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return {name.strip() for name in value.split(",") if name.strip()}
        return value

    @model_validator(mode="after")
    def _production_has_secrets(self) -> Settings:
        """Production signs tokens only with a key it was given (environment or secret file)
        and long enough for HS256 (RFC 7518: at least the hash's 32 bytes)."""
        if self.environment == "production":
            key = self.auth.secret_key.get_secret_value()
            if key == DEV_SECRET or key in PUBLISHED_SECRETS:
                raise ValueError(
                    "FTW_AUTH__SECRET_KEY or FTW_AUTH__SECRET_KEY_FILE must give production its own key"
                )
            if len(key.encode()) < MIN_SECRET_BYTES:
                raise ValueError(f"The signing key must be at least {MIN_SECRET_BYTES} bytes in production")
        return self

    @property
    def docs_served(self) -> bool:
        return self.docs_public if self.docs_public is not None else self.environment != "production"

    @property
    def upload_body_bytes(self) -> int:
        """The largest photo upload: every photo a job may hold, each at its largest."""
        return self.jobs.max_photos * (self.jobs.max_photo_bytes + self.requests.part_overhead_bytes)

    @property
    def media_path(self) -> Path:
        return self.media_dir or self.data_dir / "media"

    @property
    def backup_path(self) -> Path:
        return self.backup.folder or self.data_dir / "backups"


@lru_cache
def get_settings() -> Settings:
    return Settings()
