import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, canWrite, get, post, qs, type Page, type Session } from '../api';
import { queryOf } from '../router';
import { ClaimsTable } from '../ClaimsTable';
import { EventOptions } from '../EventOptions';
import type { Claim } from '../types';
import { ctl, download, TimeRange, Empty, ErrorBanner, Field, fromInput, Notice, toCsv } from '../ui';

const STATUSES = ['PENDING', 'APPROVED', 'REJECTED', 'REVOKED'];
const CSV_COLUMNS = ['id', 'eventId', 'userId', 'status', 'reason', 'source', 'requestedAt', 'decidedAt', 'periodStartsAt', 'rewards'];

function RevokePanel({ claim, onDone, onCancel }: { claim: Claim; onDone: (c: Claim) => void; onCancel: () => void }) {
  const [reason, setReason] = useState('');
  const [keepStock, setKeepStock] = useState(false);
  const [allowReclaim, setAllowReclaim] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLTextAreaElement>(null);
  useEffect(() => first.current?.focus(), [claim.id]);
  const fe = (f: string) => (error instanceof ApiError ? error.forField(f) : undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { reason };
      if (keepStock) body.keepStock = true;
      if (allowReclaim) body.allowReclaim = true;
      onDone(await post<Claim>(`/claims/${encodeURIComponent(claim.id)}/revoke`, body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card revoke" onSubmit={submit} aria-label="Revoke claim" onKeyDown={(e) => e.key === 'Escape' && onCancel()}>
      <h2>Revoke claim</h2>
      <p class="muted">
        Claim <code>{claim.id}</code> of user <code>{claim.userId}</code>. The reward is taken back with a <code>reward.revoked</code> message.
      </p>
      <ErrorBanner error={error} />
      <Field label="Reason (kept in the audit log)" name="reason" error={fe('reason')} wide>
        <textarea ref={first} {...ctl('reason', fe('reason'))} rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} required />
      </Field>
      <div class="field check">
        <input id="rv-keep" type="checkbox" checked={keepStock} onChange={(e) => setKeepStock(e.currentTarget.checked)} />
        <label for="rv-keep">Keep the stock unit used (do not return it)</label>
      </div>
      <div class="field check">
        <input id="rv-reclaim" type="checkbox" checked={allowReclaim} onChange={(e) => setAllowReclaim(e.currentTarget.checked)} />
        <label for="rv-reclaim">Let the user claim again</label>
      </div>
      <div class="row">
        <button type="submit" class="danger" data-write disabled={busy}>
          Revoke
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function Claims({ session, path }: { session: Session; path: string }) {
  const q = queryOf(path);
  const [filters, setFilters] = useState({
    eventId: q.get('eventId') ?? '',
    userId: q.get('userId') ?? '',
    status: q.get('status') ?? '',
    from: '',
    to: '',
  });
  const [items, setItems] = useState<Claim[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [pages, setPages] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [revoking, setRevoking] = useState<Claim | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const writable = canWrite(session);
  const pageSize = Math.min(100, Math.max(1, Number(q.get('limit')) || 50));
  const claimId = q.get('claimId');

  const params = () => ({
    eventId: filters.eventId.trim(),
    userId: filters.userId.trim(),
    status: filters.status,
    from: fromInput(filters.from),
    to: fromInput(filters.to),
    limit: pageSize,
  });

  const search = async (more: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const page = await get<Page<Claim>>('/claims' + qs({ ...params(), cursor: more ? cursor : undefined }));
      setItems((prev) => (more && prev ? [...prev, ...page.items] : page.items));
      setPages((n) => (more ? n + 1 : 1));
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (claimId) {
      // Deep link from the audit log: one claim by id.
      get<Claim>(`/claims/${encodeURIComponent(claimId)}`).then(
        (c) => (setItems([c]), setPages(1), setCursor(null)),
        setError,
      );
    } else if (q.get('eventId') || q.get('userId')) void search(false);
  }, [claimId]);

  const fe = (f: string) => (error instanceof ApiError ? error.forField(f) : undefined);
  // Follows the cursor to the end (bounded), so an export can hold the whole result.
  const loadAll = async () => {
    setBusy(true);
    setError(null);
    try {
      let all = items ?? [];
      let next = cursor;
      let n = pages;
      for (let i = 0; next && i < 50; i++) {
        const page: Page<Claim> = await get<Page<Claim>>('/claims' + qs({ ...params(), limit: 100, cursor: next }));
        all = [...all, ...page.items];
        next = page.nextCursor;
        n++;
      }
      setItems(all);
      setCursor(next);
      setPages(n);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const exportCsv = () => {
    const rows = (items ?? []).map((c) => ({
      ...c,
      periodStartsAt: c.period?.startsAt,
      rewards: (c.rewards ?? []).map((r) => `${r.quantity}x${r.type}${r.itemCode ? ':' + r.itemCode : ''}`).join(' '),
    }));
    download(`claims-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.csv`, toCsv(rows, CSV_COLUMNS));
  };

  return (
    <section>
      <div class="page-head">
        <h1>Claims</h1>
      </div>
      <form class="filters" onSubmit={(e) => (e.preventDefault(), void search(false))} noValidate>
        <Field label="Event id" name="eventId" error={fe('eventId')}>
          <input {...ctl('eventId', fe('eventId'))} list="claims-events" value={filters.eventId} onInput={(e) => setFilters({ ...filters, eventId: e.currentTarget.value })} />
          <EventOptions id="claims-events" />
        </Field>
        <Field label="User id" name="userId" error={fe('userId')}>
          <input {...ctl('userId', fe('userId'))} value={filters.userId} onInput={(e) => setFilters({ ...filters, userId: e.currentTarget.value })} />
        </Field>
        <Field label="Status" name="status" error={fe('status')}>
          <select {...ctl('status', fe('status'))} value={filters.status} onChange={(e) => setFilters({ ...filters, status: e.currentTarget.value })}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </Field>
        <TimeRange label="Requested" from={filters.from} to={filters.to} fe={fe} onChange={(v) => setFilters({ ...filters, ...v })} />
        <button type="submit" disabled={busy}>
          Search
        </button>
      </form>
      <ErrorBanner error={error} />
      {notice && <Notice kind="ok">{notice}</Notice>}
      {revoking && (
        <RevokePanel
          claim={revoking}
          onCancel={() => setRevoking(null)}
          onDone={(c) => {
            setItems((prev) => prev && prev.map((x) => (x.id === c.id ? c : x)));
            setRevoking(null);
            setNotice(`Claim ${c.id} is now ${c.status}.`);
          }}
        />
      )}
      {items && items.length === 0 && <Empty>No claim matches.</Empty>}
      {items && items.length > 0 && (
        <>
          <div class="row between">
            <p class="muted" data-testid="claims-count" aria-live="polite">
              {items.length} claims in {pages} page{pages === 1 ? '' : 's'}
              {cursor ? ', more available' : ', end of results'}.
            </p>
            <button type="button" class="secondary" onClick={exportCsv}>
              Export CSV ({items.length})
            </button>
          </div>
          <ClaimsTable
            claims={items}
            columns={['requested', 'event', 'user', 'status', 'reason', 'decided']}
            testId="claims-table"
            actions={(c) =>
              writable &&
              c.status === 'APPROVED' && (
                <button type="button" class="secondary small" data-write onClick={() => setRevoking(c)}>
                  Revoke
                </button>
              )
            }
          />
          {cursor && (
            <div class="row">
              <button type="button" class="secondary" onClick={() => void search(true)} disabled={busy}>
                Load more
              </button>
              <button type="button" class="secondary" onClick={() => void loadAll()} disabled={busy}>
                Load all (up to 5,000 more)
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}
