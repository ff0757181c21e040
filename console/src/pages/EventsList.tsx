import { useState } from 'preact/hooks';
import { ApiError, canWrite, get, qs, type Page, type Session } from '../api';
import { href } from '../router';
import type { Claim, GameEvent, Period, Stats } from '../types';
import { Empty, ErrorBanner, fmtTime, Loading, StatusBadge, useAsync } from '../ui';

interface Row {
  event: GameEvent;
  stats?: Stats;
  statsSource: 'stats' | 'claims' | 'none';
  stockLeft?: number | string;
  today?: number | string;
  periods?: Period[];
}

const DAY = 86_400_000;

function startOfTodayUtc() {
  const d = new Date();
  d.setUTCHours(0, 0, 0, 0);
  return d;
}

async function countClaims(params: Record<string, string>, maxPages: number): Promise<number | string> {
  let n = 0;
  let cursor: string | null = null;
  for (let i = 0; i < maxPages; i++) {
    const page: Page<Claim> = await get<Page<Claim>>('/claims' + qs({ ...params, limit: 100, cursor }));
    n += page.items.length;
    cursor = page.nextCursor;
    if (!cursor) return n;
  }
  return `${n}+`;
}

/** Run `fn` over `items` with at most `limit` in flight, so a long list stays under the rate limit. */
async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const routeMissing = (e: unknown) =>
  e instanceof ApiError && ((e.status === 404 && e.code === 'ROUTE_NOT_FOUND') || e.status === 405);

// Stats come from GET /events/{id}/stats where the platform has it; otherwise stock left is
// counted from the claims list, which every staff role can read. Today's approvals of all
// listed events come from one claims query (approved since UTC midnight), grouped by event.
async function enrichAll(events: GameEvent[]): Promise<Row[]> {
  const today = new Map<string, number>();
  let todayMore = false;
  try {
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page: Page<Claim> = await get<Page<Claim>>(
        '/claims' + qs({ status: 'APPROVED', from: startOfTodayUtc().toISOString(), limit: 100, cursor }),
      );
      for (const c of page.items) today.set(c.eventId, (today.get(c.eventId) ?? 0) + 1);
      cursor = page.nextCursor;
      if (!cursor) break;
      todayMore = i === 9;
    }
  } catch {
    /* leave the column empty */
  }
  let statsRouted = true;
  return pool(events, 4, async (event) => {
    const n = today.get(event.id) ?? 0;
    const row: Row = { event, statsSource: 'none', today: todayMore ? `${n}+` : n };
    if (statsRouted) {
      try {
        row.stats = await get<Stats>(`/events/${encodeURIComponent(event.id)}/stats`);
        row.statsSource = 'stats';
        row.stockLeft = row.stats.period?.stockLeft ?? row.stats.stockLeft;
      } catch (e) {
        if (routeMissing(e)) statsRouted = false;
      }
    }
    if (row.statsSource !== 'stats' && typeof event.maxClaims === 'number') {
      try {
        const approved = await countClaims({ eventId: event.id, status: 'APPROVED' }, 5);
        row.statsSource = 'claims';
        row.stockLeft = typeof approved === 'number' ? Math.max(0, event.maxClaims - approved) : `≤ ${event.maxClaims}`;
      } catch {
        /* the row is still useful without it */
      }
    }
    if (event.recurrence) {
      try {
        row.periods = (await get<{ items: Period[] }>(`/events/${encodeURIComponent(event.id)}/periods?count=30`)).items;
      } catch {
        /* periods endpoint not there yet */
      }
    }
    return row;
  });
}

function Timeline({ rows, range }: { rows: Row[]; range: string }) {
  const now = Date.now();
  let from = now - 7 * DAY;
  let to = now + 30 * DAY;
  if (range === 'all' && rows.length) {
    from = Math.min(...rows.map((r) => Date.parse(r.event.startsAt)));
    to = Math.max(...rows.map((r) => Date.parse(r.event.endsAt)));
    const pad = (to - from) * 0.03 || DAY;
    from -= pad;
    to += pad;
  } else if (range === 'week') {
    from = now - 2 * DAY;
    to = now + 7 * DAY;
  }
  const x = (t: number) => Math.max(0, Math.min(1000, ((t - from) / (to - from)) * 1000));
  const ticks: number[] = [];
  const step = to - from > 60 * DAY ? 30 * DAY : to - from > 14 * DAY ? 7 * DAY : DAY;
  const first = new Date(from);
  first.setUTCHours(0, 0, 0, 0);
  for (let t = first.getTime() + DAY; t < to; t += step) ticks.push(t);
  return (
    <figure class="timeline" aria-label="Timeline of event windows and periods">
      <div class="tl-axis" aria-hidden="true">
        <span>{fmtTime(new Date(from).toISOString()).slice(0, 10)}</span>
        <span>{fmtTime(new Date(to).toISOString()).slice(0, 10)}</span>
      </div>
      <ul class="tl-rows">
        {rows.map((r) => {
          const s = Date.parse(r.event.startsAt);
          const e = Date.parse(r.event.endsAt);
          const outside = e < from || s > to;
          return (
            <li key={r.event.id} class="tl-row" data-event-id={r.event.id}>
              <a class="tl-label" href={href(`/events/${r.event.id}`)} title={r.event.title}>
                {r.event.title}
              </a>
              <svg class="tl-track" viewBox="0 0 1000 20" preserveAspectRatio="none" role="img"
                aria-label={`${r.event.title}: ${fmtTime(r.event.startsAt)} to ${fmtTime(r.event.endsAt)}, ${r.event.status}${r.periods ? `, ${r.periods.length} periods shown` : ''}`}>
                {ticks.map((t) => (
                  <line key={t} class="tl-tick" x1={x(t)} x2={x(t)} y1="0" y2="20" />
                ))}
                {!outside && (
                  <rect class={`tl-bar s-${r.event.status.toLowerCase()}`} x={x(s)} width={Math.max(2, x(e) - x(s))} y="4" height="12" rx="2" />
                )}
                {r.periods?.map((p) => (
                  <line key={p.startsAt} class="tl-period" x1={x(Date.parse(p.startsAt))} x2={x(Date.parse(p.startsAt))} y1="2" y2="18" />
                ))}
                <line class="tl-now" x1={x(now)} x2={x(now)} y1="0" y2="20" />
              </svg>
            </li>
          );
        })}
      </ul>
      <figcaption class="muted">
        Bars are event windows (colour = status); thin marks inside a bar are period starts of recurring events; the red line is now.
      </figcaption>
    </figure>
  );
}

export function EventsList({ session }: { session: Session }) {
  const [status, setStatus] = useState('');
  const [activeNow, setActiveNow] = useState(false);
  const [range, setRange] = useState('month');
  const [text, setText] = useState('');
  const [extra, setExtra] = useState<{ rows: Row[]; cursor: string | null } | null>(null);
  const [moreError, setMoreError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const filter = () => ({ status, activeAt: activeNow ? new Date().toISOString() : undefined, limit: 50 });
  const data = useAsync(async () => {
    setExtra(null);
    const page = await get<Page<GameEvent>>('/events' + qs(filter()));
    return { rows: await enrichAll(page.items), cursor: page.nextCursor };
  }, [status, activeNow]);
  const cursor = extra ? extra.cursor : data.data?.cursor ?? null;
  const loadMore = async () => {
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await get<Page<GameEvent>>('/events' + qs({ ...filter(), cursor }));
      const rows = await enrichAll(page.items);
      setExtra((x) => ({ rows: [...(x?.rows ?? []), ...rows], cursor: page.nextCursor }));
    } catch (e) {
      setMoreError(e);
    } finally {
      setLoadingMore(false);
    }
  };

  const needle = text.trim().toLowerCase();
  const rows = [...(data.data?.rows ?? []), ...(extra?.rows ?? [])].filter(
    (r) => !needle || r.event.title.toLowerCase().includes(needle) || r.event.id.toLowerCase() === needle,
  );
  return (
    <section>
      <div class="page-head">
        <h1>Events</h1>
        {canWrite(session) && (
          <a class="button" href={href('/events/new')} data-write>
            New event
          </a>
        )}
      </div>
      <form class="filters" onSubmit={(e) => (e.preventDefault(), data.reload())}>
        <div class="field">
          <label for="ev-status">Status</label>
          <select id="ev-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">All</option>
            <option>DRAFT</option>
            <option>ACTIVE</option>
            <option>PAUSED</option>
            <option>INACTIVE</option>
          </select>
        </div>
        <div class="field check">
          <input id="ev-now" type="checkbox" checked={activeNow} onChange={(e) => setActiveNow(e.currentTarget.checked)} />
          <label for="ev-now">Window open now</label>
        </div>
        <div class="field">
          <label for="ev-find">Find by title or id</label>
          <input id="ev-find" type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="ev-range">Timeline range</label>
          <select id="ev-range" value={range} onChange={(e) => setRange(e.currentTarget.value)}>
            <option value="week">Next 7 days</option>
            <option value="month">Past week, next 30 days</option>
            <option value="all">All events</option>
          </select>
        </div>
        <button type="submit" class="secondary">
          Refresh
        </button>
      </form>
      <ErrorBanner error={data.error} />
      {data.loading && !data.data && <Loading />}
      {data.data && rows.length === 0 && <Empty>No events match.</Empty>}
      {data.data && rows.length > 0 && (
        <>
          <Timeline rows={rows} range={range} />
          <div class="table-wrap">
            <table class="cards" data-testid="events-table">
              <thead>
                <tr>
                  <th scope="col">Title</th>
                  <th scope="col">Status</th>
                  <th scope="col">Window</th>
                  <th scope="col">Stock left</th>
                  <th scope="col">Approved today</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.event.id} data-event-id={r.event.id}>
                    <td data-label="Title">
                      <a href={href(`/events/${r.event.id}`)}>{r.event.title}</a>
                      {r.event.recurrence && <span class="tag">every {r.event.recurrence.every.toLowerCase()}</span>}
                    </td>
                    <td data-label="Status">
                      <StatusBadge status={r.event.status} />
                    </td>
                    <td data-label="Window">
                      {fmtTime(r.event.startsAt)} → {fmtTime(r.event.endsAt)}
                      {r.event.timezone && r.event.timezone !== 'UTC' && <span class="muted"> ({r.event.timezone})</span>}
                    </td>
                    <td data-label="Stock left" data-testid="stock-left">
                      {r.stockLeft ?? (typeof r.event.maxClaims === 'number' ? '…' : 'no limit')}
                      {typeof r.event.maxClaims === 'number' && <span class="muted"> / {r.event.maxClaims}</span>}
                    </td>
                    <td data-label="Approved today" data-testid="approved-today">
                      {r.today ?? '—'}
                    </td>
                    <td data-label="Actions" class="actions">
                      <a href={href(`/events/${r.event.id}/live`)}>Live view</a>
                      <a href={href(`/claims?eventId=${encodeURIComponent(r.event.id)}`)}>Claims</a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ErrorBanner error={moreError} />
          {cursor && (
            <button type="button" class="secondary" onClick={() => void loadMore()} disabled={loadingMore}>
              {loadingMore ? 'Loading…' : 'Load more events'}
            </button>
          )}
        </>
      )}
    </section>
  );
}
