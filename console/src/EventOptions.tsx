import { useEffect, useState } from 'preact/hooks';
import { get, type Page } from './api';
import type { GameEvent } from './types';

// Shared by the fields of one screen; refetched after a minute so new events show up.
let cache: Promise<GameEvent[]> | null = null;
let cachedAt = 0;

/** A <datalist> of recent events, so an event-id field can be filled by title. */
export function EventOptions({ id }: { id: string }) {
  const [events, setEvents] = useState<GameEvent[]>([]);
  useEffect(() => {
    if (Date.now() - cachedAt > 60_000) cache = null;
    if (!cache) cachedAt = Date.now();
    cache ??= get<Page<GameEvent>>('/events?limit=100').then(
      (p) => p.items,
      () => ((cache = null), []),
    );
    void cache.then(setEvents);
  }, []);
  return (
    <datalist id={id}>
      {events.map((e) => (
        <option key={e.id} value={e.id}>
          {`${e.title} (${e.status})`}
        </option>
      ))}
    </datalist>
  );
}
