import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, qs, type Page, type Session } from '../api';
import { href } from '../router';
import { openStream } from '../sse';
import { ClaimsTable } from '../ClaimsTable';
import type { Claim, GameEvent, Stats } from '../types';
import { ErrorBanner, fmtTime, Loading, StatusBadge } from '../ui';

type Source = 'connecting' | 'stream' | 'polling stats' | 'counting claims';

async function countedStats(eventId: string, maxClaims?: number | null): Promise<Stats> {
  const s: Stats = { approved: 0, pending: 0, revoked: 0, rejected: {} };
  let cursor: string | null = null;
  for (let i = 0; i < 20; i++) {
    const page: Page<Claim> = await get<Page<Claim>>('/claims' + qs({ eventId, limit: 100, cursor }));
    for (const c of page.items) {
      if (c.status === 'APPROVED') s.approved++;
      else if (c.status === 'PENDING') s.pending++;
      else if (c.status === 'REVOKED') s.revoked++;
      else if (c.status === 'REJECTED') s.rejected[c.reason ?? 'UNKNOWN'] = (s.rejected[c.reason ?? 'UNKNOWN'] ?? 0) + 1;
    }
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  if (typeof maxClaims === 'number') s.stockLeft = Math.max(0, maxClaims - s.approved);
  return s;
}

function Sparkline({ points }: { points: number[] }) {
  if (points.length < 2) return null;
  // Scaled between the lowest and highest value seen, so a rise of a few claims is visible.
  const min = Math.min(...points);
  const span = Math.max(1, Math.max(...points) - min);
  const d = points.map((p, i) => `${(i / (points.length - 1)) * 300},${40 - ((p - min) / span) * 38}`).join(' ');
  return (
    <svg class="spark" viewBox="0 0 300 42" preserveAspectRatio="none" role="img" aria-label={`Approvals over the last ${points.length} updates, now ${points[points.length - 1]}`}>
      <polyline points={d} />
    </svg>
  );
}

export function LiveView({ id }: { session: Session; id: string }) {
  const [event, setEvent] = useState<GameEvent | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [source, setSource] = useState<Source>('connecting');
  const [updated, setUpdated] = useState<Date | null>(null);
  const [recent, setRecent] = useState<Claim[]>([]);
  const history = useRef<number[]>([]);
  const stamps = useRef<{ t: number; approved: number }[]>([]);
  const [, force] = useState(0);

  const push = (s: Stats) => {
    setStats(s);
    setUpdated(new Date());
    history.current = [...history.current.slice(-59), s.approved];
    const now = Date.now();
    stamps.current = [...stamps.current.filter((x) => now - x.t <= 60_000), { t: now, approved: s.approved }];
    force((n) => n + 1);
  };

  useEffect(() => {
    let stop = () => {};
    let timer: number | undefined;
    let cancelled = false;
    const enc = encodeURIComponent(id);
    const refreshRecent = () =>
      get<Page<Claim>>('/claims' + qs({ eventId: id, limit: 10 })).then((p) => !cancelled && setRecent(p.items), () => undefined);

    const poll = (ev: GameEvent) => {
      let mode: 'stats' | 'claims' = 'stats';
      const tick = async () => {
        try {
          if (mode === 'stats') {
            try {
              push(await get<Stats>(`/events/${enc}/stats`));
              setSource('polling stats');
            } catch (e) {
              if (e instanceof ApiError && (e.status === 404 || e.status === 405)) mode = 'claims';
              else throw e;
            }
          }
          if (mode === 'claims') {
            push(await countedStats(id, ev.maxClaims));
            setSource('counting claims');
          }
          setError(null);
        } catch (e) {
          setError(e);
        }
        void refreshRecent();
        if (!cancelled) timer = window.setTimeout(tick, mode === 'stats' ? 2000 : 3000);
      };
      void tick();
    };

    get<GameEvent>(`/events/${enc}`).then(
      (ev) => {
        if (cancelled) return;
        setEvent(ev);
        void refreshRecent();
        let recentTimer: number | undefined;
        stop = openStream(
          `/events/${enc}/stats/stream`,
          (m) => {
            try {
              const s = JSON.parse(m.data) as Stats;
              if (typeof s.approved === 'number') {
                push(s);
                setSource('stream');
                // Claims list refresh is throttled: the stream can tick every second.
                if (recentTimer === undefined) recentTimer = window.setTimeout(() => ((recentTimer = undefined), void refreshRecent()), 2000);
              }
            } catch {
              /* not a stats frame */
            }
          },
          (st) => {
            if (st === 'unavailable' && !cancelled) poll(ev);
          },
        );
      },
      (e) => setError(e),
    );
    return () => {
      cancelled = true;
      stop();
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [id]);

  const stockLeft = stats?.period?.stockLeft ?? stats?.stockLeft;
  const stockTotal = stats?.period ? event?.maxClaimsPerPeriod ?? event?.maxClaims : event?.maxClaims;
  const rejected = stats ? Object.values(stats.rejected ?? {}).reduce((a, b) => a + b, 0) : 0;

  return (
    <section>
      <div class="page-head">
        <h1>Live: {event?.title ?? id}</h1>
        {event && (
          <div class="head-meta">
            <StatusBadge status={event.status} />
            <a href={href(`/events/${id}`)}>Editor</a>
            <a href={href(`/claims?eventId=${encodeURIComponent(id)}`)}>All claims</a>
          </div>
        )}
      </div>
      <p class="muted" aria-live="polite">
        Source: <strong data-testid="live-source">{source}</strong>
        {updated && <> · updated {updated.toISOString().slice(11, 19)} UTC</>}
        {event && <> · window {fmtTime(event.startsAt)} → {fmtTime(event.endsAt)}</>}
      </p>
      <ErrorBanner error={error} />
      {!stats && !error && <Loading />}
      {stats && (
        <>
          <div class="tiles">
            <div class="tile ok">
              <span class="tile-label">Approved</span>
              <span class="tile-value" data-testid="live-approved">{stats.approved}</span>
            </div>
            <div class="tile">
              <span class="tile-label">Pending</span>
              <span class="tile-value" data-testid="live-pending">{stats.pending}</span>
            </div>
            <div class="tile warn">
              <span class="tile-label">Rejected</span>
              <span class="tile-value" data-testid="live-rejected">{rejected}</span>
            </div>
            <div class="tile">
              <span class="tile-label">Revoked</span>
              <span class="tile-value" data-testid="live-revoked">{stats.revoked}</span>
            </div>
            <div class="tile">
              <span class="tile-label">{stats.period ? 'Stock left this period' : 'Stock left'}</span>
              <span class="tile-value" data-testid="live-stock">{stockLeft ?? 'no limit'}</span>
              {typeof stockLeft === 'number' && typeof stockTotal === 'number' && (
                <meter min={0} max={stockTotal} low={stockTotal * 0.2} high={stockTotal * 0.5} optimum={stockTotal} value={stockLeft}>
                  {stockLeft} of {stockTotal}
                </meter>
              )}
            </div>
          </div>
          {stats.period && (
            <p class="muted">
              Current period {fmtTime(stats.period.startsAt)} → {fmtTime(stats.period.endsAt)}: {stats.period.approved} approved.
            </p>
          )}
          {rejected > 0 && (
            <p>
              Rejections:{' '}
              {Object.entries(stats.rejected).map(([k, v]) => (
                <span key={k} class="tag">
                  {k}: {v}
                </span>
              ))}
            </p>
          )}
          <h2>Approvals</h2>
          <p class="muted" data-testid="live-rate">
            {stamps.current.length > 1
              ? `+${stats.approved - stamps.current[0].approved} in the last ${Math.max(1, Math.round((Date.now() - stamps.current[0].t) / 1000))} s`
              : 'Rate shows after the next update.'}
          </p>
          <Sparkline points={history.current} />
        </>
      )}
      <h2>Latest claims</h2>
      {recent.length === 0 ? (
        <p class="muted">No claims yet.</p>
      ) : (
        <ClaimsTable claims={recent} columns={['requested', 'user', 'status', 'reason']} testId="live-claims" />
      )}
    </section>
  );
}
