import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { canWrite, getSession, isAdmin, logout, onSession, type Session } from './api';
import { href, match, queryOf, useRoute } from './router';
import { SignIn } from './pages/SignIn';
import { EventsList } from './pages/EventsList';
import { EventEditor } from './pages/EventEditor';
import { LiveView } from './pages/LiveView';
import { Claims } from './pages/Claims';
import { Users } from './pages/Users';
import { Segments } from './pages/Segments';
import { Grants } from './pages/Grants';
import { Audit } from './pages/Audit';

const NAV: [string, string][] = [
  ['/events', 'Events'],
  ['/claims', 'Claims'],
  ['/users', 'Users'],
  ['/segments', 'Segments'],
  ['/grants', 'Grants'],
  ['/audit', 'Audit log'],
];

function Page({ path, session }: { path: string; session: Session }) {
  let m;
  if ((m = match('/events', path))) return <EventsList session={session} />;
  if ((m = match('/events/new', path))) return <EventEditor session={session} copyOf={queryOf(path).get('from') ?? undefined} />;
  if ((m = match('/events/:id/live', path))) return <LiveView session={session} id={m.id} />;
  if ((m = match('/events/:id', path))) return <EventEditor session={session} id={m.id} />;
  if ((m = match('/claims', path))) return <Claims session={session} path={path} />;
  if ((m = match('/users', path))) return <Users session={session} path={path} />;
  if ((m = match('/users/:id', path))) return <Users session={session} path={path} id={m.id} />;
  if ((m = match('/segments', path))) return <Segments session={session} />;
  if ((m = match('/segments/:id', path))) return <Segments session={session} id={m.id} />;
  if ((m = match('/grants', path))) return <Grants session={session} path={path} />;
  if ((m = match('/audit', path))) return <Audit session={session} path={path} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No console page at <code>{path}</code>. <a href={href('/events')}>Go to events</a>.
      </p>
    </section>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(getSession());
  const path = useRoute();
  useEffect(() => onSession(setSession), []);
  useEffect(() => {
    // Move focus to the new page's heading so keyboard and screen-reader users follow navigation.
    const h = document.querySelector<HTMLElement>('main h1');
    if (h) {
      h.tabIndex = -1;
      h.focus({ preventScroll: true });
    }
  }, [path.split('?')[0]]);

  if (!session) return <SignIn />;
  const section = '/' + (path.split('?')[0].split('/')[1] ?? '');
  const role = isAdmin(session) ? 'ADMIN' : canWrite(session) ? 'OPERATOR' : 'AUDITOR (read-only)';
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('/events')}>
          Live-ops console
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map(([p, label]) => (
              <li key={p}>
                <a href={href(p)} aria-current={section === p ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class="who-id" title={session.userId} data-testid="who">
            {session.email ?? session.userId}
          </span>
          <span class="role" data-testid="role">
            {role}
          </span>
          <button type="button" class="secondary" onClick={() => void logout()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {/* Keyed by the route: a deep link (claims of an event, audit of an entity) starts a fresh page. */}
        <Page key={path} path={path} session={session} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
