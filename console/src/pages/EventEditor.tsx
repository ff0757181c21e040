import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, canWrite, del, get, patch, post, type Session } from '../api';
import { href, navigate } from '../router';
import type { GameEvent, Period } from '../types';
import { ctl, ErrorBanner, Field, fmtTime, fromInput, Loading, Notice, StatusBadge, toInput } from '../ui';

interface CondForm { type: string; threshold: string; key: string; aggregate: string }
interface RewardForm { type: string; itemCode: string; quantity: string }
interface Form {
  title: string;
  description: string;
  startsAt: string;
  endsAt: string;
  timezone: string;
  maxClaims: string;
  conditions: CondForm[];
  rewards: RewardForm[];
  recurring: boolean;
  every: string;
  resetAt: string;
  resetDay: string;
  maxClaimsPerPeriod: string;
  targeted: boolean;
  segments: string;
  rolloutPercent: string;
  registeredAfter: string;
  registeredBefore: string;
}

interface Forecast {
  audience: number;
  qualifying: number;
  rewards: { type: string; itemCode?: string; quantity: number }[];
}

const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];

function blank(): Form {
  const start = new Date(Date.now() + 3_600_000);
  start.setUTCMinutes(0, 0, 0);
  const end = new Date(start.getTime() + 7 * 86_400_000);
  return {
    title: '',
    description: '',
    startsAt: toInput(start.toISOString()),
    endsAt: toInput(end.toISOString()),
    timezone: 'UTC',
    maxClaims: '',
    conditions: [],
    rewards: [{ type: 'POINT', itemCode: '', quantity: '100' }],
    recurring: false,
    every: 'DAY',
    resetAt: '00:00',
    resetDay: '',
    maxClaimsPerPeriod: '',
    targeted: false,
    segments: '',
    rolloutPercent: '',
    registeredAfter: '',
    registeredBefore: '',
  };
}

function fromEvent(e: GameEvent): Form {
  return {
    title: e.title ?? '',
    description: e.description ?? '',
    startsAt: toInput(e.startsAt),
    endsAt: toInput(e.endsAt),
    timezone: e.timezone ?? 'UTC',
    maxClaims: e.maxClaims == null ? '' : String(e.maxClaims),
    conditions: (e.conditions ?? []).map((c) => ({
      type: c.type,
      threshold: String(c.threshold),
      key: c.key ?? '',
      aggregate: c.aggregate ?? '',
    })),
    rewards: (e.rewards ?? []).map((r) => ({ type: r.type, itemCode: r.itemCode ?? '', quantity: String(r.quantity) })),
    recurring: !!e.recurrence,
    every: e.recurrence?.every ?? 'DAY',
    resetAt: e.recurrence?.resetAt ?? '00:00',
    resetDay: e.recurrence?.resetDay == null ? '' : String(e.recurrence.resetDay),
    maxClaimsPerPeriod: e.maxClaimsPerPeriod == null ? '' : String(e.maxClaimsPerPeriod),
    targeted: !!e.audience,
    segments: (e.audience?.segments ?? []).join(', '),
    rolloutPercent: e.audience?.rolloutPercent == null ? '' : String(e.audience.rolloutPercent),
    registeredAfter: toInput(e.audience?.registeredAfter),
    registeredBefore: toInput(e.audience?.registeredBefore),
  };
}

// Numbers go out as numbers; anything unparsable goes out as typed so the server names the field.
const num = (v: string): number | string | undefined => (v.trim() === '' ? undefined : isNaN(Number(v)) ? v : Number(v));

function toBody(f: Form, existing?: GameEvent): Record<string, unknown> {
  const body: Record<string, unknown> = {
    title: f.title,
    description: f.description,
    startsAt: fromInput(f.startsAt) ?? f.startsAt,
    endsAt: fromInput(f.endsAt) ?? f.endsAt,
    timezone: f.timezone || 'UTC',
    conditions: f.conditions.map((c) => {
      const o: Record<string, unknown> = { type: c.type, threshold: num(c.threshold) };
      if (c.type === 'COUNTER') {
        o.key = c.key;
        if (c.aggregate) o.aggregate = c.aggregate;
      }
      return o;
    }),
    rewards: f.rewards.map((r) => {
      const o: Record<string, unknown> = { type: r.type, quantity: num(r.quantity) };
      if (r.itemCode) o.itemCode = r.itemCode;
      return o;
    }),
  };
  const max = num(f.maxClaims);
  if (max !== undefined) body.maxClaims = max;
  else if (existing && existing.maxClaims != null) body.maxClaims = null;
  // Recurrence and audience are sent only when used (or when being removed), so a platform
  // without them still accepts plain events.
  if (f.recurring) {
    const r: Record<string, unknown> = { every: f.every };
    if (f.resetAt) r.resetAt = f.resetAt;
    if (f.every !== 'DAY' && f.resetDay) r.resetDay = f.every === 'MONTH' ? num(f.resetDay) : f.resetDay;
    body.recurrence = r;
    const per = num(f.maxClaimsPerPeriod);
    if (per !== undefined) body.maxClaimsPerPeriod = per;
    else if (existing?.maxClaimsPerPeriod != null) body.maxClaimsPerPeriod = null;
  } else if (existing?.recurrence) {
    body.recurrence = null;
  }
  if (f.targeted) {
    const a: Record<string, unknown> = {};
    const segs = f.segments.split(/[\s,]+/).filter(Boolean);
    if (segs.length) a.segments = segs;
    const pct = num(f.rolloutPercent);
    if (pct !== undefined) a.rolloutPercent = pct;
    if (f.registeredAfter) a.registeredAfter = fromInput(f.registeredAfter);
    if (f.registeredBefore) a.registeredBefore = fromInput(f.registeredBefore);
    body.audience = a;
  } else if (existing?.audience) {
    body.audience = null;
  }
  return body;
}

let zones: string[] | null = null;
function timeZones(): string[] {
  if (!zones) {
    try {
      zones = (Intl as any).supportedValuesOf('timeZone') as string[];
    } catch {
      zones = ['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Asia/Seoul', 'Asia/Tokyo'];
    }
    if (!zones.includes('UTC')) zones.unshift('UTC');
  }
  return zones;
}

export function EventEditor({ session, id, copyOf }: { session: Session; id?: string; copyOf?: string }) {
  const writable = canWrite(session);
  const [event, setEvent] = useState<GameEvent | null>(null);
  const [form, setForm] = useState<Form>(blank());
  const [loadError, setLoadError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [forecast, setForecast] = useState<{ data?: Forecast; error?: unknown } | null>(null);
  const [periods, setPeriods] = useState<{ items?: Period[]; error?: unknown } | null>(null);

  const load = async () => {
    if (!id && copyOf) {
      // "Duplicate as draft": the source's settings in a new, unsaved form.
      try {
        const src = await get<GameEvent>(`/events/${encodeURIComponent(copyOf)}`);
        setForm({ ...fromEvent(src), title: `${src.title} (copy)`.slice(0, 200) });
      } catch (e) {
        setError(e);
      }
      return;
    }
    if (!id) return;
    try {
      const e = await get<GameEvent>(`/events/${encodeURIComponent(id)}`);
      setEvent(e);
      setForm(fromEvent(e));
      setLoadError(null);
      if (e.recurrence) {
        get<{ items: Period[] }>(`/events/${encodeURIComponent(id)}/periods?count=10`).then(
          (p) => setPeriods({ items: p.items }),
          (err) => setPeriods({ error: err }),
        );
      }
    } catch (e) {
      setLoadError(e);
    }
  };
  useEffect(() => {
    setEvent(null);
    setForm(blank());
    setError(null);
    setSaved(null);
    setForecast(null);
    setPeriods(null);
    void load();
  }, [id]);

  const fe = (f: string) => (error instanceof ApiError ? error.forField(f) : undefined);
  const set = (patchForm: Partial<Form>) => setForm((f) => ({ ...f, ...patchForm }));
  const setCond = (i: number, p: Partial<CondForm>) =>
    setForm((f) => ({ ...f, conditions: f.conditions.map((c, j) => (j === i ? { ...c, ...p } : c)) }));
  const setReward = (i: number, p: Partial<RewardForm>) =>
    setForm((f) => ({ ...f, rewards: f.rewards.map((r, j) => (j === i ? { ...r, ...p } : r)) }));

  const run = async (what: string, fn: () => Promise<GameEvent | void>) => {
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      const e = await fn();
      if (e) {
        setEvent(e);
        setForm(fromEvent(e));
      }
      setSaved(what);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const save = (e: Event) => {
    e.preventDefault();
    void run('Saved.', async () => {
      if (!event) {
        const created = await post<GameEvent>('/events', toBody(form));
        navigate(`/events/${created.id}`);
        return created;
      }
      return patch<GameEvent>(`/events/${encodeURIComponent(event.id)}`, { ...toBody(form, event), version: event.version });
    });
  };

  const setStatus = (status: string, what: string) =>
    run(what, async () => {
      const e = await patch<GameEvent>(`/events/${encodeURIComponent(event!.id)}`, { status, version: event!.version });
      setForecast(null);
      return e;
    });

  const loadForecast = async () => {
    setForecast({});
    try {
      setForecast({ data: await get<Forecast>(`/events/${encodeURIComponent(event!.id)}/forecast`) });
    } catch (err) {
      setForecast({ error: err });
    }
  };

  const archive = () => {
    if (!window.confirm(`Archive "${event!.title}"? It disappears from lists; its claims are kept.`)) return;
    void run('Archived.', async () => {
      await del(`/events/${encodeURIComponent(event!.id)}`);
      navigate('/events');
    });
  };

  const tzHint = useMemo(() => {
    if (!form.timezone || form.timezone === 'UTC') return undefined;
    const s = fromInput(form.startsAt);
    const e = fromInput(form.endsAt);
    return s && e ? `In ${form.timezone}: ${fmtTime(s, form.timezone)} → ${fmtTime(e, form.timezone)}` : undefined;
  }, [form.timezone, form.startsAt, form.endsAt]);

  if (id && loadError) return (<section><h1>Event</h1><ErrorBanner error={loadError} /></section>);
  if (id && !event) return (<section><h1>Event</h1><Loading /></section>);

  const status = event?.status ?? 'DRAFT';
  // Status buttons send only the status: with unsaved edits they would silently drop them.
  const dirty = !!event && JSON.stringify(form) !== JSON.stringify(fromEvent(event));
  const conflict = error instanceof ApiError && error.status === 409;

  return (
    <section>
      <div class="page-head">
        <h1>{event ? (writable ? 'Edit event' : 'Event') : 'New event'}</h1>
        {event && (
          <div class="head-meta">
            <StatusBadge status={status} />
            <span class="muted">v{event.version}</span>
            <a href={href(`/events/${event.id}/live`)}>Live view</a>
            <a href={href(`/claims?eventId=${encodeURIComponent(event.id)}`)}>Claims</a>
            <a href={href(`/audit?entityType=event&entityId=${encodeURIComponent(event.id)}`)}>History</a>
          </div>
        )}
      </div>
      {!writable && <Notice>Read-only: your roles do not allow changing events.</Notice>}
      {error && <ErrorBanner error={error} />}
      {conflict && (
        <Notice kind="warn">
          Someone changed this event since you opened it.{' '}
          <button type="button" class="link" onClick={() => void load()}>
            Reload the latest version
          </button>{' '}
          (your unsaved edits will be lost).
        </Notice>
      )}
      {saved && !error && <Notice kind="ok">{saved}</Notice>}

      {event && writable && dirty && <Notice kind="warn">Unsaved changes: save them before changing the status.</Notice>}
      {event && writable && (
        <div class="status-actions" aria-label="Status">
          {(status === 'DRAFT' || status === 'INACTIVE') && (
            <button type="button" data-write onClick={() => void loadForecast()} disabled={busy || dirty}>
              Activate…
            </button>
          )}
          {status === 'ACTIVE' && (
            <button type="button" data-write class="secondary" onClick={() => void setStatus('PAUSED', 'Paused: new claims are refused until you resume.')} disabled={busy || dirty}>
              Pause
            </button>
          )}
          {status === 'PAUSED' && (
            <button type="button" data-write onClick={() => void setStatus('ACTIVE', 'Resumed.')} disabled={busy || dirty}>
              Resume
            </button>
          )}
          {(status === 'ACTIVE' || status === 'PAUSED') && (
            <button type="button" data-write class="secondary" onClick={() => void setStatus('INACTIVE', 'Deactivated.')} disabled={busy || dirty}>
              Deactivate
            </button>
          )}
          <a class="button secondary" data-write href={href(`/events/new?from=${encodeURIComponent(event.id)}`)}>
            Duplicate as draft
          </a>
          <button type="button" data-write class="danger" onClick={archive} disabled={busy}>
            Archive
          </button>
        </div>
      )}

      {forecast && (
        <div class="card forecast" data-testid="forecast" role="region" aria-label="Forecast">
          <h2>Before activating</h2>
          {!forecast.data && !forecast.error && <Loading />}
          {forecast.error != null && (
            <>
              <p>The forecast could not be computed:</p>
              <ErrorBanner error={forecast.error} />
            </>
          )}
          {forecast.data && (
            <dl class="kv">
              <dt>Users in the audience</dt>
              <dd data-testid="forecast-audience">{forecast.data.audience}</dd>
              <dt>Qualifying now</dt>
              <dd data-testid="forecast-qualifying">{forecast.data.qualifying}</dd>
              <dt>Rewards that would go out</dt>
              <dd>
                {forecast.data.rewards.length === 0
                  ? 'none'
                  : forecast.data.rewards.map((r) => `${r.quantity} × ${r.type}${r.itemCode ? ` ${r.itemCode}` : ''}`).join(', ')}
              </dd>
            </dl>
          )}
          <div class="row">
            <button type="button" data-write onClick={() => void setStatus('ACTIVE', 'Activated.')} disabled={busy || (!forecast.data && !forecast.error)}>
              {forecast.error ? 'Activate without forecast' : 'Confirm activation'}
            </button>
            <button type="button" class="secondary" onClick={() => setForecast(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}

      <form class="editor" onSubmit={save} noValidate>
        <fieldset disabled={!writable || busy} class="plain">
          <div class="grid">
            <Field label="Title" name="title" error={fe('title')} wide>
              <input {...ctl('title', fe('title'))} value={form.title} onInput={(e) => set({ title: e.currentTarget.value })} required />
            </Field>
            <Field label="Description" name="description" error={fe('description')} wide>
              <textarea {...ctl('description', fe('description'))} rows={3} value={form.description} onInput={(e) => set({ description: e.currentTarget.value })} />
            </Field>
            <Field label="Starts at (UTC)" name="startsAt" error={fe('startsAt')}>
              <input {...ctl('startsAt', fe('startsAt'))} type="datetime-local" value={form.startsAt} onInput={(e) => set({ startsAt: e.currentTarget.value })} />
            </Field>
            <Field label="Ends at (UTC)" name="endsAt" error={fe('endsAt')} hint={tzHint}>
              <input {...ctl('endsAt', fe('endsAt'))} type="datetime-local" value={form.endsAt} onInput={(e) => set({ endsAt: e.currentTarget.value })} />
            </Field>
            <Field label="Timezone (days and resets)" name="timezone" error={fe('timezone')}>
              <input {...ctl('timezone', fe('timezone'))} list="tz-list" value={form.timezone} onInput={(e) => set({ timezone: e.currentTarget.value })} />
              <datalist id="tz-list">
                {timeZones().map((z) => (
                  <option key={z} value={z} />
                ))}
              </datalist>
            </Field>
            <Field label="Stock for the whole event (maxClaims)" name="maxClaims" error={fe('maxClaims')} hint="Empty: no limit.">
              <input {...ctl('maxClaims', fe('maxClaims'))} type="number" min="1" inputMode="numeric" value={form.maxClaims} onInput={(e) => set({ maxClaims: e.currentTarget.value })} />
            </Field>
          </div>

          <fieldset class="group" data-field="conditions">
            <legend>Conditions (all must hold)</legend>
            {fe('conditions') && <p class="field-error" data-error-for="conditions" role="alert">{fe('conditions')}</p>}
            {form.conditions.length === 0 && <p class="muted">No condition: everyone in the audience may claim.</p>}
            {form.conditions.map((c, i) => (
              <div class="row-item" key={i}>
                <Field label={`Condition ${i + 1} type`} name={`conditions[${i}].type`} error={fe(`conditions[${i}].type`)}>
                  <select {...ctl(`conditions[${i}].type`, fe(`conditions[${i}].type`))} value={c.type} onChange={(e) => setCond(i, { type: e.currentTarget.value })}>
                    <option value="LOGIN_DAYS">Login days</option>
                    <option value="CONSECUTIVE_LOGIN_DAYS">Consecutive login days</option>
                    <option value="INVITE_COUNT">Invited users</option>
                    <option value="COUNTER">Game counter</option>
                  </select>
                </Field>
                <Field label="Threshold" name={`conditions[${i}].threshold`} error={fe(`conditions[${i}].threshold`)}>
                  <input {...ctl(`conditions[${i}].threshold`, fe(`conditions[${i}].threshold`))} type="number" min="1" value={c.threshold} onInput={(e) => setCond(i, { threshold: e.currentTarget.value })} />
                </Field>
                {c.type === 'COUNTER' && (
                  <>
                    <Field label="Counter key" name={`conditions[${i}].key`} error={fe(`conditions[${i}].key`)}>
                      <input {...ctl(`conditions[${i}].key`, fe(`conditions[${i}].key`))} value={c.key} onInput={(e) => setCond(i, { key: e.currentTarget.value })} />
                    </Field>
                    <Field label="Aggregate" name={`conditions[${i}].aggregate`} error={fe(`conditions[${i}].aggregate`)}>
                      <select {...ctl(`conditions[${i}].aggregate`, fe(`conditions[${i}].aggregate`))} value={c.aggregate} onChange={(e) => setCond(i, { aggregate: e.currentTarget.value })}>
                        <option value="">Sum</option>
                        <option value="MAX">Highest value</option>
                      </select>
                    </Field>
                  </>
                )}
                {writable && (
<button type="button" class="secondary small" data-write onClick={() => set({ conditions: form.conditions.filter((_, j) => j !== i) })}>
                  Remove condition {i + 1}
                </button>
)}
              </div>
            ))}
            {writable && (
<button type="button" class="secondary" data-write onClick={() => set({ conditions: [...form.conditions, { type: 'LOGIN_DAYS', threshold: '1', key: '', aggregate: '' }] })}>
              Add condition
            </button>
)}
          </fieldset>

          <fieldset class="group" data-field="rewards">
            <legend>Rewards</legend>
            {fe('rewards') && <p class="field-error" data-error-for="rewards" role="alert">{fe('rewards')}</p>}
            {form.rewards.map((r, i) => (
              <div class="row-item" key={i}>
                <Field label={`Reward ${i + 1} type`} name={`rewards[${i}].type`} error={fe(`rewards[${i}].type`)}>
                  <select {...ctl(`rewards[${i}].type`, fe(`rewards[${i}].type`))} value={r.type} onChange={(e) => setReward(i, { type: e.currentTarget.value })}>
                    <option>POINT</option>
                    <option>ITEM</option>
                    <option>COUPON</option>
                  </select>
                </Field>
                {r.type !== 'POINT' && (
                  <Field label="Item code" name={`rewards[${i}].itemCode`} error={fe(`rewards[${i}].itemCode`)}>
                    <input {...ctl(`rewards[${i}].itemCode`, fe(`rewards[${i}].itemCode`))} value={r.itemCode} onInput={(e) => setReward(i, { itemCode: e.currentTarget.value })} />
                  </Field>
                )}
                <Field label="Quantity" name={`rewards[${i}].quantity`} error={fe(`rewards[${i}].quantity`)}>
                  <input {...ctl(`rewards[${i}].quantity`, fe(`rewards[${i}].quantity`))} type="number" min="1" value={r.quantity} onInput={(e) => setReward(i, { quantity: e.currentTarget.value })} />
                </Field>
                {writable && (
<button type="button" class="secondary small" data-write onClick={() => set({ rewards: form.rewards.filter((_, j) => j !== i) })}>
                  Remove reward {i + 1}
                </button>
)}
              </div>
            ))}
            {writable && (
<button type="button" class="secondary" data-write onClick={() => set({ rewards: [...form.rewards, { type: 'ITEM', itemCode: '', quantity: '1' }] })}>
              Add reward
            </button>
)}
          </fieldset>

          <fieldset class="group" data-field="recurrence">
            <legend>Recurrence</legend>
            {fe('recurrence') && <p class="field-error" data-error-for="recurrence" role="alert">{fe('recurrence')}</p>}
            <div class="field check">
              <input id="f-recurring" type="checkbox" checked={form.recurring} onChange={(e) => set({ recurring: e.currentTarget.checked })} />
              <label for="f-recurring">Repeats: each period is its own claim window</label>
            </div>
            {form.recurring && (
              <div class="grid">
                <Field label="Every" name="recurrence.every" error={fe('recurrence.every')}>
                  <select {...ctl('recurrence.every', fe('recurrence.every'))} value={form.every} onChange={(e) => set({ every: e.currentTarget.value, resetDay: '' })}>
                    <option value="DAY">Day</option>
                    <option value="WEEK">Week</option>
                    <option value="MONTH">Month</option>
                  </select>
                </Field>
                <Field label="Resets at (local HH:MM)" name="recurrence.resetAt" error={fe('recurrence.resetAt')}>
                  <input {...ctl('recurrence.resetAt', fe('recurrence.resetAt'))} type="time" value={form.resetAt} onInput={(e) => set({ resetAt: e.currentTarget.value })} />
                </Field>
                {form.every === 'WEEK' && (
                  <Field label="Reset day" name="recurrence.resetDay" error={fe('recurrence.resetDay')}>
                    <select {...ctl('recurrence.resetDay', fe('recurrence.resetDay'))} value={form.resetDay} onChange={(e) => set({ resetDay: e.currentTarget.value })}>
                      <option value="">Default</option>
                      {WEEKDAYS.map((d) => (
                        <option key={d}>{d}</option>
                      ))}
                    </select>
                  </Field>
                )}
                {form.every === 'MONTH' && (
                  <Field label="Reset day of month (1-28)" name="recurrence.resetDay" error={fe('recurrence.resetDay')}>
                    <input {...ctl('recurrence.resetDay', fe('recurrence.resetDay'))} type="number" min="1" max="28" value={form.resetDay} onInput={(e) => set({ resetDay: e.currentTarget.value })} />
                  </Field>
                )}
                <Field label="Stock per period (maxClaimsPerPeriod)" name="maxClaimsPerPeriod" error={fe('maxClaimsPerPeriod')} hint="Empty: no per-period limit.">
                  <input {...ctl('maxClaimsPerPeriod', fe('maxClaimsPerPeriod'))} type="number" min="1" value={form.maxClaimsPerPeriod} onInput={(e) => set({ maxClaimsPerPeriod: e.currentTarget.value })} />
                </Field>
              </div>
            )}
            {periods?.items && (
              <div>
                <h3>Next periods</h3>
                <ol class="periods" data-testid="periods">
                  {periods.items.map((p) => (
                    <li key={p.startsAt}>
                      {fmtTime(p.startsAt, form.timezone)} → {fmtTime(p.endsAt, form.timezone)}
                    </li>
                  ))}
                </ol>
              </div>
            )}
            {periods?.error != null && <ErrorBanner error={periods.error} />}
          </fieldset>

          <fieldset class="group" data-field="audience">
            <legend>Audience</legend>
            {fe('audience') && <p class="field-error" data-error-for="audience" role="alert">{fe('audience')}</p>}
            <div class="field check">
              <input id="f-targeted" type="checkbox" checked={form.targeted} onChange={(e) => set({ targeted: e.currentTarget.checked })} />
              <label for="f-targeted">Only for part of the players</label>
            </div>
            {form.targeted && (
              <div class="grid">
                <Field label="Segment ids (comma separated)" name="audience.segments" error={fe('audience.segments')} wide hint={<a href={href('/segments')}>Manage segments</a>}>
                  <input {...ctl('audience.segments', fe('audience.segments'))} value={form.segments} onInput={(e) => set({ segments: e.currentTarget.value })} />
                </Field>
                <Field label="Rollout percent (1-100)" name="audience.rolloutPercent" error={fe('audience.rolloutPercent')}>
                  <input {...ctl('audience.rolloutPercent', fe('audience.rolloutPercent'))} type="number" min="1" max="100" value={form.rolloutPercent} onInput={(e) => set({ rolloutPercent: e.currentTarget.value })} />
                </Field>
                <Field label="Registered after (UTC)" name="audience.registeredAfter" error={fe('audience.registeredAfter')}>
                  <input {...ctl('audience.registeredAfter', fe('audience.registeredAfter'))} type="datetime-local" value={form.registeredAfter} onInput={(e) => set({ registeredAfter: e.currentTarget.value })} />
                </Field>
                <Field label="Registered before (UTC)" name="audience.registeredBefore" error={fe('audience.registeredBefore')}>
                  <input {...ctl('audience.registeredBefore', fe('audience.registeredBefore'))} type="datetime-local" value={form.registeredBefore} onInput={(e) => set({ registeredBefore: e.currentTarget.value })} />
                </Field>
              </div>
            )}
          </fieldset>
        </fieldset>
        {writable && (
          <div class="row sticky-actions">
            <button type="submit" data-write disabled={busy}>
              {event ? 'Save changes' : 'Create draft'}
            </button>
            <a class="button secondary" href={href('/events')}>
              Back to events
            </a>
          </div>
        )}
      </form>
      {event && (
        <p class="muted">
          Created {fmtTime(event.createdAt)} by <code>{event.createdBy}</code>; updated {fmtTime(event.updatedAt)}. Id <code>{event.id}</code>.
        </p>
      )}
    </section>
  );
}
