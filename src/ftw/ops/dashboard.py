"""/ops: the runbook's overview as one server-rendered page, for admins.

``GET /ops`` needs an admin's bearer token, like every admin route, and re-renders itself
every 15 seconds (meta refresh) for clients that send the header. A browser cannot add a
header to a plain page load, so ``GET /ops/live`` serves a sign-in form with a short
script that logs in through the API, keeps the tokens in the tab's sessionStorage and
re-fetches /ops with them every 15 seconds. No cookie, so no cross-site request risk.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from html import escape

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ftw.accounts.auth import Admin, Anyone
from ftw.core import metrics, switches
from ftw.ops.overview import (
    DatabaseFigures,
    Overview,
    QueueStats,
    Window,
    compute,
    database_figures,
    queue_stats,
    start_sample,
)

router = APIRouter(tags=["ops"])
log = structlog.get_logger(__name__)

REFRESH_S = 15
_WINDOW = Window(start=start_sample())

STYLE = """
:root { font: 15px/1.4 system-ui, sans-serif; color: #1d2430; background: #f4f5f7; }
body { margin: 0 auto; max-width: 1180px; padding: 20px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 22px 0 8px; color: #4a5363; }
.meta { color: #6b7483; font-size: 13px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(205px, 1fr)); gap: 10px; }
.card { background: #fff; border-radius: 6px; padding: 10px 12px; border-left: 5px solid #c8cdd5; }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #6b7483; }
.card .value { font-size: 26px; font-weight: 600; margin: 2px 0; }
.card .note { font-size: 12px; color: #6b7483; }
.ok { border-left-color: #2e9e5b; } .warning { border-left-color: #e0a100; }
.critical { border-left-color: #d23c3c; } .critical .value { color: #b32020; }
table { border-collapse: collapse; background: #fff; border-radius: 6px; min-width: 320px; }
td, th { padding: 5px 12px; text-align: left; border-bottom: 1px solid #eceef1; font-size: 13px; }
th { color: #6b7483; font-weight: 500; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.tables { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.state-open, .state-off { color: #b32020; font-weight: 600; }
.state-half_open { color: #a87700; font-weight: 600; }
form { background: #fff; padding: 16px; border-radius: 6px; max-width: 320px; display: grid; gap: 8px; }
[hidden] { display: none !important; }
"""


def _table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i >= numeric_from else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_main(overview: Overview, switched: Sequence[switches.State] = ()) -> str:
    """The overview's content; /ops/live swaps this element in on every refresh."""
    cards = "".join(
        f'<div class="card {f.level}"><div class="label">{escape(f.label)}</div>'
        f'<div class="value">{escape(f.value)}</div><div class="note">{escape(f.note)}</div></div>'
        for f in overview.figures
    )
    breakers = _table(
        ("Breaker", "State"),
        [
            (escape(v), f'<span class="state-{escape(s)}">{escape(s)}</span>')
            for v, s in overview.breakers.items()
        ],
    )
    queue = overview.queue
    tasks = [(escape(t.entrypoint), f"{t.depth:,}", f"{t.oldest_age_s:,.0f} s") for t in queue.tasks]
    tasks.append(("<b>all tasks</b>", f"<b>{queue.depth:,}</b>", f"<b>{queue.oldest_age_s:,.0f} s</b>"))
    events = [
        (escape(event), escape(outcome), f"{count:,.0f}")
        for event, outcomes in overview.business.items()
        for outcome, count in sorted(outcomes.items())
    ]
    controls = _table(
        ("Switch", "State", "Message", "Changed"),
        [
            (
                escape(s.name.value),
                f'<span class="state-{"on" if s.on else "off"}">{"on" if s.on else "off"}</span>',
                escape(s.message or ""),
                f"{s.changed_at:%Y-%m-%d %H:%M} UTC" if s.changed_at else "never",
            )
            for s in switched
        ],
        numeric_from=4,
    )
    minutes = overview.window_s / 60
    return (
        f'<main><p class="meta">{overview.generated_at:%Y-%m-%d %H:%M:%S} UTC · rates over the last '
        f"{minutes:.1f} min · this instance's view (Grafana has all instances)</p>"
        f'<div class="grid">{cards}</div><div class="tables">'
        f"<div><h2>Circuit breakers</h2>{breakers}</div>"
        f"<div><h2>Switches</h2>{controls}</div>"
        f"<div><h2>Task queue (due, waiting)</h2>{_table(('Task', 'Waiting', 'Oldest'), tasks)}</div>"
        f"<div><h2>Business events since start</h2>{_table(('Event', 'Outcome', 'Count'), events, 2)}</div>"
        "</div></main>"
    )


def _page(title: str, body: str, *, head: str = "", script_nonce: str | None = None) -> HTMLResponse:
    scripts = f"'nonce-{script_nonce}'" if script_nonce else "'none'"
    policy = (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src {scripts}; connect-src 'self'; "
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{head}'
        f"<style>{STYLE}</style></head><body><h1>FairTradeWorker · operations</h1>{body}</body></html>"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"})


async def _from_database(request: Request) -> tuple[DatabaseFigures | None, QueueStats | None]:
    try:
        async with asyncio.timeout(5), request.app.state.db.sessions() as session:
            return await database_figures(session), await queue_stats(session)
    except Exception as exc:  # the page must still show what the process knows
        log.warning("ops_database_failed", error=f"{type(exc).__name__}: {exc}")
        return None, None


@router.get("/ops", response_class=HTMLResponse)
async def overview_page(request: Request, _: Admin) -> HTMLResponse:
    """The health overview of this instance: traffic, latency, errors, database, queue."""
    state = request.app.state
    database, queue = await _from_database(request)
    try:
        active: int | None = await state.active_users.count()
    except Exception as exc:  # Redis down
        log.warning("ops_active_users_failed", error=f"{type(exc).__name__}: {exc}")
        active = None
    overview = compute(
        registry=metrics.registry(),
        window=_WINDOW,
        alerts=state.settings.alerts,
        active_users=active,
        database=database,
        queue=queue,
    )
    try:
        await state.switches.refresh(state.db)
    except Exception as exc:  # the database is down: show the last copy this process read
        log.warning("ops_switches_failed", error=f"{type(exc).__name__}: {exc}")
    return _page(
        "FTW operations",
        render_main(overview, state.switches.states()),
        head=f'<meta http-equiv="refresh" content="{REFRESH_S}">',
    )


LIVE_SCRIPT = """
const store = sessionStorage, status = document.getElementById('status');
async function tokens(path, body) {
  const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'},
                               body: JSON.stringify(body)});
  if (!r.ok) return false;
  const t = await r.json();
  store.setItem('access', t.access_token); store.setItem('refresh', t.refresh_token);
  return true;
}
async function show() {
  let r = await fetch('/ops', {headers: {Authorization: 'Bearer ' + store.getItem('access')}});
  if (r.status === 401 && await tokens('/api/v1/auth/refresh', {refresh_token: store.getItem('refresh')}))
    r = await fetch('/ops', {headers: {Authorization: 'Bearer ' + store.getItem('access')}});
  if (!r.ok) {
    status.textContent = r.status === 403 ? 'Admins only.' : 'Signed out: sign in again.';
    store.clear(); document.getElementById('signin').hidden = false; return;
  }
  const page = new DOMParser().parseFromString(await r.text(), 'text/html');
  document.querySelector('main').replaceWith(page.querySelector('main'));
  document.getElementById('signin').hidden = true; status.textContent = '';
}
document.getElementById('signin').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  if (await tokens('/api/v1/auth/login', {email: f.get('email'), password: f.get('password')})) show();
  else status.textContent = 'Wrong e-mail or password.';
});
if (store.getItem('access')) show();
setInterval(() => { if (store.getItem('access')) show(); }, REFRESH_MS);
"""


@router.get("/ops/live", response_class=HTMLResponse)
async def live_page(_: Anyone) -> HTMLResponse:
    """A browser's way in to /ops: sign in, then the overview refreshes in place."""
    nonce = secrets.token_urlsafe(16)
    body = (
        '<p id="status" class="meta"></p>'
        '<form id="signin" hidden><b>Admin sign-in</b>'
        '<input name="email" type="email" placeholder="e-mail" required autocomplete="username">'
        '<input name="password" type="password" placeholder="password" required '
        'autocomplete="current-password"><button>Sign in</button></form><main></main>'
        f'<script nonce="{nonce}">{LIVE_SCRIPT.replace("REFRESH_MS", str(REFRESH_S * 1000))}'
        "if (!store.getItem('access')) document.getElementById('signin').hidden = false;</script>"
    )
    return _page("FTW operations", body, script_nonce=nonce)
