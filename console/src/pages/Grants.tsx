import { useEffect, useState } from 'preact/hooks';
import { ApiError, canWrite, get, newIdempotencyKey, request, type Session } from '../api';
import { href, navigate, queryOf } from '../router';
import { ctl, ErrorBanner, Field, Loading, Notice, parseIds } from '../ui';
import { IdsInput } from '../IdsInput';
import { EventOptions } from '../EventOptions';

interface Job {
  id: string;
  status: 'QUEUED' | 'RUNNING' | 'DONE' | 'FAILED';
  total: number;
  done: number;
  skipped: number;
  failed: number;
}

function JobProgress({ id }: { id: string }) {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let timer: number | undefined;
    let stop = false;
    const tick = async () => {
      try {
        const j = await get<Job>(`/jobs/${encodeURIComponent(id)}`);
        setJob(j);
        setError(null);
        if (j.status === 'DONE' || j.status === 'FAILED') return;
      } catch (e) {
        setError(e);
        if (e instanceof ApiError && e.status < 500) return;
      }
      if (!stop) timer = window.setTimeout(tick, 1000);
    };
    void tick();
    return () => {
      stop = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [id]);
  const processed = job ? job.done + job.skipped + job.failed : 0;
  return (
    <section class="card" aria-labelledby="job-title" data-testid="job">
      <h2 id="job-title">
        Job <code>{id}</code>
      </h2>
      <ErrorBanner error={error} />
      {!job && !error && <Loading />}
      {job && (
        <>
          <p aria-live="polite">
            <strong data-testid="job-status">{job.status}</strong>: {processed} of {job.total} processed
          </p>
          <progress max={job.total || 1} value={processed}>
            {processed} / {job.total}
          </progress>
          <dl class="kv">
            <dt>Granted</dt>
            <dd data-testid="job-done">{job.done}</dd>
            <dt>Skipped (already had one)</dt>
            <dd>{job.skipped}</dd>
            <dt>Failed</dt>
            <dd>{job.failed}</dd>
          </dl>
        </>
      )}
    </section>
  );
}

export function Grants({ session, path }: { session: Session; path: string }) {
  const q = queryOf(path);
  const jobId = q.get('job');
  const [eventId, setEventId] = useState(q.get('eventId') ?? '');
  const [ids, setIds] = useState('');
  const [reason, setReason] = useState('');
  const [ignoreStock, setIgnoreStock] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [lookup, setLookup] = useState('');
  // One key per filled-in form: a retried submit after a network error is not granted twice.
  const [key, setKey] = useState(newIdempotencyKey());
  const writable = canWrite(session);
  const fe = (f: string) => (error instanceof ApiError ? error.forField(f) ?? error.fields.find((x) => x.field.startsWith(f + '['))?.message : undefined);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const userIds = parseIds(ids);
    if (!eventId.trim()) return setError(new Error('Choose the event to grant.'));
    setBusy(true);
    try {
      const res = await request<any>('POST', `/events/${encodeURIComponent(eventId.trim())}/grants`, { userIds, reason, ...(ignoreStock ? { ignoreStock: true } : {}) }, { headers: { 'idempotency-key': key } });
      const loc = res.headers.get('location') ?? '';
      const id = res.data?.id ?? loc.split('/').pop();
      setKey(newIdempotencyKey());
      setIds('');
      navigate(`/grants?job=${encodeURIComponent(id)}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1>Grants</h1>
      </div>
      <p class="muted">Compensation and backfill: each listed user gets an approved claim without evaluating conditions (one per user and period).</p>
      {jobId && <JobProgress id={jobId} />}
      {writable ? (
        <form class="card" onSubmit={submit} noValidate aria-labelledby="grant-new">
          <h2 id="grant-new">New grant</h2>
          <ErrorBanner error={error} />
          <div class="grid">
            <Field label="Event id" name="eventId" error={fe('eventId')}>
              <input {...ctl('eventId', fe('eventId'))} list="grant-events" value={eventId} onInput={(e) => setEventId(e.currentTarget.value)} />
              <EventOptions id="grant-events" />
            </Field>
            <Field label="Reason (kept in the audit log)" name="reason" error={fe('reason')}>
              <input {...ctl('reason', fe('reason'))} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
            </Field>
          </div>
          <IdsInput name="userIds" label="User ids" value={ids} onChange={setIds} error={fe('userIds')} />
          <div class="field check">
            <input id="g-ignore" type="checkbox" checked={ignoreStock} onChange={(e) => setIgnoreStock(e.currentTarget.checked)} />
            <label for="g-ignore">Grant even beyond the stock</label>
          </div>
          <button type="submit" data-write disabled={busy}>
            Start grant job
          </button>
        </form>
      ) : (
        <Notice>Read-only: your roles do not allow granting rewards. You can follow a job's progress.</Notice>
      )}
      <form class="filters" onSubmit={(e) => (e.preventDefault(), lookup.trim() && navigate(`/grants?job=${encodeURIComponent(lookup.trim())}`))}>
        <Field label="Follow a job by id" name="jobLookup">
          <input {...ctl('jobLookup')} value={lookup} onInput={(e) => setLookup(e.currentTarget.value)} />
        </Field>
        <button type="submit" class="secondary">
          Show job
        </button>
        <a href={href('/audit?entityType=job')}>Past grant jobs in the audit log</a>
      </form>
    </section>
  );
}
