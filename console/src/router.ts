import { useEffect, useState } from 'preact/hooks';

// Hash routing: the gateway serves one index.html under /console/ and needs no fallback route.
export function currentPath(): string {
  const h = window.location.hash.replace(/^#/, '');
  return h.startsWith('/') ? h : '/events';
}

export function useRoute(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const on = () => setPath(currentPath());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return path;
}

export function navigate(path: string) {
  window.location.hash = path;
}

export const href = (path: string) => `#${path}`;

/** Match `/events/:id/live` style patterns; returns params or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const [pathOnly] = path.split('?');
  const a = pattern.split('/').filter(Boolean);
  const b = pathOnly.split('/').filter(Boolean);
  if (a.length !== b.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(':')) params[a[i].slice(1)] = decodeURIComponent(b[i]);
    else if (a[i] !== b[i]) return null;
  }
  return params;
}

export function queryOf(path: string): URLSearchParams {
  const i = path.indexOf('?');
  return new URLSearchParams(i >= 0 ? path.slice(i + 1) : '');
}
