import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, qs, type Page, type Session } from '../api';
import { href, queryOf } from '../router';
import { ctl, Empty, TimeRange, ErrorBanner, Field, fmtTime, fromInput } from '../ui';

interface AuditRecord {
  id: string;
  at: string;
  actor: { id: string; roles: string[] };
  action: string;
  entity: { type: string; id: string };
  before?: unknown;
  after?: unknown;
  requestId?: string;
}

const ENTITY_TYPES = ['event', 'segment', 'claim', 'job', 'activity', 'user'];

/** Flatten JSON to path -> printed value, so before and after line up row by row. */
function flatten(v: unknown, prefix = '', out: Map<string, string> = new Map()): Map<string, string> {
  if (v !== null && typeof v === 'object' && !(Array.isArray(v) && v.length === 0) && Object.keys(v as object).length > 0) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      flatten(x, Array.isArray(v) ? `${prefix}[${k}]` : prefix ? `${prefix}.${k}` : k, out);
    }
  } else if (v !== undefined) {
    out.set(prefix || '(value)', JSON.stringify(v));
  }
  return out;
}

export function Diff({ before, after }: { before: unknown; after: unknown }) {
  const [onlyChanged, setOnlyChanged] = useState(false);
  const b = flatten(before);
  const a = flatten(after);
  const all = [...new Set([...b.keys(), ...a.keys()])];
  const keys = onlyChanged ? all.filter((k) => b.get(k) !== a.get(k)) : all;
  if (all.length === 0) return <p class="muted">No before/after recorded.</p>;
  const changed = all.filter((k) => b.get(k) !== a.get(k)).length;
  return (
    <>
      <div class="row between">
        <p class="muted">
          {changed} of {all.length} fields differ (highlighted).
        </p>
        <div class="field check">
          <input id="diff-only" type="checkbox" checked={onlyChanged} onChange={(e) => setOnlyChanged(e.currentTarget.checked)} />
          <label for="diff-only">Only changed fields</label>
        </div>
      </div>
      <div class="table-wrap">
        <table class="diff" data-testid="audit-diff">
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Before</th>
              <th scope="col">After</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => {
              const diff = b.get(k) !== a.get(k);
              return (
                <tr key={k} class={diff ? 'changed' : undefined}>
                  <th scope="row">
                    <code>{k}</code>
                    {diff && <span class="sr-only"> (changed)</span>}
                  </th>
                  <td class="before">
                    <code>{b.get(k) ?? '—'}</code>
                  </td>
                  <td class="after">
                    <code>{a.get(k) ?? '—'}</code>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

function entityLink(e: { type: string; id: string }) {
  if (e.type === 'event') return href(`/events/${e.id}`);
  if (e.type === 'segment') return href(`/segments/${e.id}`);
  if (e.type === 'user') return href(`/users/${e.id}`);
  if (e.type === 'job') return href(`/grants?job=${encodeURIComponent(e.id)}`);
  if (e.type === 'claim') return href(`/claims?claimId=${encodeURIComponent(e.id)}`);
  return undefined;
}

export function Audit({ path }: { session: Session; path: string }) {
  const q = queryOf(path);
  const [f, setF] = useState({
    entityType: q.get('entityType') ?? '',
    entityId: q.get('entityId') ?? '',
    actorId: q.get('actorId') ?? '',
    action: q.get('action') ?? '',
    from: '',
    to: '',
  });
  const [items, setItems] = useState<AuditRecord[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [selected, setSelected] = useState<AuditRecord | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const search = async (more: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const page = await get<Page<AuditRecord>>(
        '/audit' +
          qs({
            entityType: f.entityType,
            entityId: f.entityId.trim(),
            actorId: f.actorId.trim(),
            action: f.action.trim(),
            from: fromInput(f.from),
            to: fromInput(f.to),
            limit: 50,
            cursor: more ? cursor : undefined,
          }),
      );
      setItems((prev) => (more && prev ? [...prev, ...page.items] : page.items));
      setCursor(page.nextCursor);
      if (!more) setSelected(page.items[0] ?? null);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => void search(false), [path]);
  const fe = (x: string) => (error instanceof ApiError ? error.forField(x) : undefined);

  return (
    <section>
      <div class="page-head">
        <h1>Audit log</h1>
      </div>
      <form class="filters" onSubmit={(e) => (e.preventDefault(), void search(false))} noValidate>
        <Field label="Entity type" name="entityType" error={fe('entityType')}>
          <select {...ctl('entityType', fe('entityType'))} value={f.entityType} onChange={(e) => setF({ ...f, entityType: e.currentTarget.value })}>
            <option value="">Any</option>
            {ENTITY_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </Field>
        <Field label="Entity id" name="entityId" error={fe('entityId')}>
          <input {...ctl('entityId', fe('entityId'))} value={f.entityId} onInput={(e) => setF({ ...f, entityId: e.currentTarget.value })} />
        </Field>
        <Field label="Actor id" name="actorId" error={fe('actorId')}>
          <input {...ctl('actorId', fe('actorId'))} value={f.actorId} onInput={(e) => setF({ ...f, actorId: e.currentTarget.value })} />
        </Field>
        <Field label="Action" name="action" error={fe('action')}>
          <input {...ctl('action', fe('action'))} value={f.action} onInput={(e) => setF({ ...f, action: e.currentTarget.value })} placeholder="e.g. claim.revoked" />
        </Field>
        <TimeRange label="" from={f.from} to={f.to} fe={fe} onChange={(v) => setF({ ...f, ...v })} />
        <button type="submit" disabled={busy}>
          Search
        </button>
      </form>
      <ErrorBanner error={error} />
      {items && items.length === 0 && <Empty>No audit record matches.</Empty>}
      {items && items.length > 0 && (
        <div class="split">
          <div>
            <ul class="audit-list" data-testid="audit-list">
              {items.map((r) => (
                <li key={r.id}>
                  <button type="button" class={`audit-item${selected?.id === r.id ? ' selected' : ''}`} aria-pressed={selected?.id === r.id} onClick={() => setSelected(r)}>
                    <span class="audit-action">{r.action}</span>
                    <span class="muted">
                      {r.entity.type} {r.entity.id.slice(0, 12)} · {fmtTime(r.at)}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
            {cursor && (
              <button type="button" class="secondary" onClick={() => void search(true)} disabled={busy}>
                Load more
              </button>
            )}
          </div>
          {selected && (
            <article class="card" aria-labelledby="audit-detail">
              <h2 id="audit-detail">{selected.action}</h2>
              <dl class="kv">
                <dt>When</dt>
                <dd>{fmtTime(selected.at)}</dd>
                <dt>Who</dt>
                <dd>
                  <a href={href(`/users/${selected.actor.id}`)}>
                    <code>{selected.actor.id}</code>
                  </a>{' '}
                  ({selected.actor.roles.join(', ')})
                </dd>
                <dt>What</dt>
                <dd>
                  {selected.entity.type}{' '}
                  {entityLink(selected.entity) ? (
                    <a href={entityLink(selected.entity)}>
                      <code>{selected.entity.id}</code>
                    </a>
                  ) : (
                    <code>{selected.entity.id}</code>
                  )}
                </dd>
                <dt>Request</dt>
                <dd>
                  <code>{selected.requestId ?? '—'}</code>
                </dd>
              </dl>
              <Diff before={selected.before} after={selected.after} />
            </article>
          )}
        </div>
      )}
    </section>
  );
}
