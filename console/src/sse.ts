import { authFetch } from './api';

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/**
 * Server-Sent Events over fetch: EventSource cannot send the bearer token. Reconnects with
 * Last-Event-ID after a drop; gives up (calls onUnavailable) when the endpoint answers 404/405,
 * so the caller can fall back to polling.
 */
export function openStream(
  path: string,
  onMessage: (m: SseMessage) => void,
  onState: (s: 'open' | 'retrying' | 'unavailable', detail?: string) => void,
): () => void {
  const ctl = new AbortController();
  let lastId: string | undefined;
  let stopped = false;

  const once = async (): Promise<'again' | 'stop'> => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (lastId) headers['last-event-id'] = lastId;
    const res = await authFetch(path, { headers, signal: ctl.signal });
    if (!res.ok || !res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
      onState('unavailable', `${res.status}`);
      return 'stop';
    }
    onState('open');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let ev: SseMessage = { event: 'message', data: '' };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'again';
      buf += value;
      let nl: number;
      while ((nl = buf.search(/\r?\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf[nl] === '\r' ? 2 : 1));
        if (line === '') {
          if (ev.data !== '') onMessage({ ...ev, data: ev.data.replace(/\n$/, '') });
          ev = { event: 'message', data: '' };
        } else if (line.startsWith(':')) {
          /* heartbeat comment */
        } else {
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'data') ev.data += val + '\n';
          else if (field === 'event') ev.event = val;
          else if (field === 'id') ev.id = lastId = val;
        }
      }
    }
  };

  (async () => {
    let delay = 1000;
    while (!stopped) {
      try {
        if ((await once()) === 'stop') return;
        delay = 1000;
      } catch (e) {
        if (stopped) return;
      }
      onState('retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  })();

  return () => {
    stopped = true;
    ctl.abort();
  };
}
