import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const seq = useRef(0);
  const run = useCallback(() => {
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => n === seq.current && setState({ data, loading: false }),
      (error) => n === seq.current && setState({ error, loading: false }),
    );
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

export function describeError(e: unknown): { title: string; detail: string; code?: string } {
  if (e instanceof ApiError) {
    const body = e.body as any;
    const rid = body && body.requestId ? ` (request ${body.requestId})` : '';
    if (e.status === 404 && (e.code === 'ROUTE_NOT_FOUND' || /no route/i.test(e.detail))) {
      return {
        title: 'Not available on this platform yet',
        detail: `The server answered 404 ${e.code}: ${e.detail}${rid}`,
        code: e.code,
      };
    }
    return { title: `${e.status} ${e.code}`, detail: `${e.detail}${rid}`, code: e.code };
  }
  if (e instanceof Error) return { title: 'Error', detail: e.message };
  return { title: 'Error', detail: String(e) };
}

export function ErrorBanner({ error }: { error: unknown }) {
  if (!error) return null;
  const d = describeError(error);
  return (
    <div class="alert error" role="alert" data-code={d.code}>
      <strong>{d.title}</strong> <span>{d.detail}</span>
    </div>
  );
}

export function Notice({ children, kind = 'info' }: { children: ComponentChildren; kind?: 'info' | 'ok' | 'warn' }) {
  return (
    <div class={`alert ${kind}`} role="status">
      {children}
    </div>
  );
}

export const fieldId = (name: string) => 'f-' + name.replace(/[^a-zA-Z0-9_-]/g, '_');

/** Labelled control with the server's field error right under it. */
export function Field(props: {
  label: string;
  name: string;
  error?: string;
  hint?: ComponentChildren;
  children: ComponentChildren;
  wide?: boolean;
}) {
  const id = fieldId(props.name);
  return (
    <div class={`field${props.error ? ' invalid' : ''}${props.wide ? ' wide' : ''}`} data-field={props.name}>
      <label for={id}>{props.label}</label>
      {props.children}
      {props.hint && <p class="hint">{props.hint}</p>}
      {props.error && (
        <p class="field-error" id={`${id}-error`} data-error-for={props.name} role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}

/** aria wiring for a control rendered inside <Field>. */
export const ctl = (name: string, error?: string) => ({
  id: fieldId(name),
  name,
  'aria-invalid': error ? ('true' as const) : undefined,
  'aria-describedby': error ? `${fieldId(name)}-error` : undefined,
});

export function fmtTime(iso?: string | null, tz?: string): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  if (tz && tz !== 'UTC') {
    try {
      return new Intl.DateTimeFormat('en-CA', {
        timeZone: tz,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      })
        .format(d)
        .replace(',', '') + ` ${tz}`;
    } catch {
      /* unknown zone: fall through to UTC */
    }
  }
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** `<input type="datetime-local">` values are read and written as UTC. */
export function toInput(iso?: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 16);
}

export function fromInput(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v.length === 16 ? `${v}:00Z` : `${v}Z`);
  return isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge s-${status.toLowerCase()}`}>{status}</span>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Loading() {
  return (
    <p class="loading" aria-live="polite">
      Loading…
    </p>
  );
}

export function Copyable({ value }: { value: string }) {
  return (
    <code class="id" title={value}>
      {value}
    </code>
  );
}

export function csvEscape(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: Record<string, unknown>[], columns: string[]): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => csvEscape(r[c])).join(','))].join('\r\n') + '\r\n';
}

export function download(name: string, text: string, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** User ids from pasted text or a CSV file: a `userId`/`id` column if there is a header, else the first column. */
export function parseIds(text: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines.length === 0) return [];
  const split = (l: string) => l.split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, ''));
  const header = split(lines[0]).map((h) => h.toLowerCase());
  let col = header.findIndex((h) => h === 'userid' || h === 'user_id' || h === 'id');
  const rows = col >= 0 ? lines.slice(1) : lines;
  const out = new Set<string>();
  for (const line of rows) {
    if (col >= 0) {
      const v = split(line)[col];
      if (v) out.add(v);
    } else {
      // Pasted lists: any separator (comma, space, newline).
      for (const v of line.split(/[\s,;]+/)) if (v) out.add(v.replace(/^"|"$/g, ''));
    }
  }
  return [...out];
}

/** From/to datetime-local pair (UTC) for list filters; errors under the field the server names. */
export function TimeRange(props: {
  label: string;
  from: string;
  to: string;
  onChange: (v: { from?: string; to?: string }) => void;
  fe: (field: string) => string | undefined;
}) {
  return (
    <>
      <Field label={props.label ? `${props.label} from (UTC)` : 'From (UTC)'} name="from" error={props.fe('from')}>
        <input {...ctl('from', props.fe('from'))} type="datetime-local" value={props.from} onInput={(e) => props.onChange({ from: e.currentTarget.value })} />
      </Field>
      <Field label={props.label ? `${props.label} to (UTC)` : 'To (UTC)'} name="to" error={props.fe('to')}>
        <input {...ctl('to', props.fe('to'))} type="datetime-local" value={props.to} onInput={(e) => props.onChange({ to: e.currentTarget.value })} />
      </Field>
    </>
  );
}
