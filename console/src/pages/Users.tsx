import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, isAdmin, patch, qs, type Page, type Role, type Session } from '../api';
import { href, navigate, queryOf } from '../router';
import type { Claim } from '../types';
import { ClaimsTable } from '../ClaimsTable';
import { ctl, Empty, ErrorBanner, Field, fmtTime, Loading, Notice, useAsync } from '../ui';

interface User {
  id: string;
  email: string;
  nickname: string;
  roles: Role[];
  inviteCode?: string;
  invitedBy?: string;
  createdAt: string;
}
interface Progress {
  userId: string;
  timezone?: string;
  keys: { key: string; total: number; max?: number; count?: number }[];
  loginDays: string[];
}

const ALL_ROLES: Role[] = ['USER', 'OPERATOR', 'AUDITOR', 'ADMIN'];

// Users found by email this session, by id: GET /users?email= is open to every staff role,
// while GET /users/{id} is ADMIN's (or the user's own), so the detail page shows the profile
// the lookup answered for staff who cannot read it by id.
const lookedUp = new Map<string, User>();

// Exact match on the normalised email (the server trims and lower-cases it).
async function findByEmail(email: string): Promise<User | null> {
  const page = await get<Page<User>>('/users' + qs({ email }));
  const hit = page.items[0] ?? null;
  if (hit) lookedUp.set(hit.id, hit);
  return hit;
}

function Lookup({ initial }: { initial?: string }) {
  const [value, setValue] = useState(initial ?? '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const v = value.trim();
    if (!v) return;
    setError(null);
    if (!v.includes('@')) return navigate(`/users/${encodeURIComponent(v)}`);
    setBusy(true);
    try {
      const u = await findByEmail(v);
      if (u) navigate(`/users/${encodeURIComponent(u.id)}`);
      else setError(new Error(`No user with email ${v}.`));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  // The server's 400 naming `email` belongs next to the field.
  const emailError = error instanceof ApiError ? error.forField('email') : undefined;
  return (
    <form class="filters" onSubmit={submit} role="search">
      <Field label="User id or email" name="lookup" error={emailError}>
        <input {...ctl('lookup', emailError)} value={value} onInput={(e) => setValue(e.currentTarget.value)} placeholder="01a2… or player@example.com" />
      </Field>
      <button type="submit" disabled={busy}>
        Look up
      </button>
      {error != null && !emailError && <ErrorBanner error={error} />}
    </form>
  );
}

function RoleList() {
  const [role, setRole] = useState('');
  const [items, setItems] = useState<User[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const seq = useRef(0);
  const load = async (more: boolean) => {
    setError(null);
    // A slow answer for the previous role filter must not overwrite the current one.
    const n = ++seq.current;
    try {
      const page = await get<Page<User>>('/users' + qs({ role, limit: 50, cursor: more ? cursor : undefined }));
      if (n !== seq.current) return;
      setItems((prev) => (more ? [...prev, ...page.items] : page.items));
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => void load(false), [role]);
  return (
    <section aria-labelledby="ul-title">
      <h2 id="ul-title">Accounts</h2>
      <div class="filters">
        <div class="field">
          <label for="ul-role">Role</label>
          <select id="ul-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            <option value="">Any</option>
            {ALL_ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </div>
      </div>
      <ErrorBanner error={error} />
      <div class="table-wrap">
        <table class="cards" data-testid="users-table">
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Nickname</th>
              <th scope="col">Roles</th>
              <th scope="col">Registered</th>
            </tr>
          </thead>
          <tbody>
            {items.map((u) => (
              <tr key={u.id}>
                <td data-label="Email">
                  <a href={href(`/users/${u.id}`)}>{u.email}</a>
                </td>
                <td data-label="Nickname">{u.nickname}</td>
                <td data-label="Roles">{u.roles.join(', ')}</td>
                <td data-label="Registered">{fmtTime(u.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cursor && (
        <button type="button" class="secondary" onClick={() => void load(true)}>
          Load more
        </button>
      )}
    </section>
  );
}

function RolesEditor({ user, onSaved }: { user: User; onSaved: (u: User) => void }) {
  const [roles, setRoles] = useState<Role[]>(user.roles);
  const [error, setError] = useState<unknown>(null);
  const [ok, setOk] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => setRoles(user.roles), [user.id, user.roles.join()]);
  const toggle = (r: Role, on: boolean) => setRoles((rs) => (on ? [...rs.filter((x) => x !== r), r] : rs.filter((x) => x !== r)));
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setOk(false);
    try {
      const ordered = ALL_ROLES.filter((r) => roles.includes(r));
      onSaved(await patch<User>(`/users/${encodeURIComponent(user.id)}/roles`, { roles: ordered }));
      setOk(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fe = error instanceof ApiError ? error.fields.map((f) => f.message).join('; ') : undefined;
  return (
    <form onSubmit={save} class="roles-editor">
      <fieldset class="group" data-field="roles">
        <legend>Roles</legend>
        {ALL_ROLES.map((r) => (
          <div class="field check" key={r}>
            <input id={`role-${r}`} type="checkbox" checked={roles.includes(r)} onChange={(e) => toggle(r, e.currentTarget.checked)} />
            <label for={`role-${r}`}>{r}</label>
          </div>
        ))}
        {fe && (
          <p class="field-error" data-error-for="roles" role="alert">
            {fe}
          </p>
        )}
      </fieldset>
      {error != null && !fe && <ErrorBanner error={error} />}
      {ok && <Notice kind="ok">Roles saved. The user's outstanding sessions were revoked.</Notice>}
      <button type="submit" data-write disabled={busy}>
        Save roles
      </button>
    </form>
  );
}

function UserDetail({ session, id }: { session: Session; id: string }) {
  const admin = isAdmin(session);
  const [user, setUser] = useState<User | null>(null);
  const [userError, setUserError] = useState<unknown>(null);
  useEffect(() => {
    setUser(lookedUp.get(id) ?? null);
    setUserError(null);
    if (admin || id === session.userId) get<User>(`/users/${encodeURIComponent(id)}`).then(setUser, setUserError);
  }, [id]);
  const progress = useAsync(() => get<Progress>(`/users/${encodeURIComponent(id)}/progress`), [id]);
  const claims = useAsync(() => get<Page<Claim>>('/claims' + qs({ userId: id, limit: 20 })), [id]);

  return (
    <>
      <div class="cols">
        <section class="card" aria-labelledby="ud-profile">
          <h2 id="ud-profile">Profile</h2>
          {user ? (
            <dl class="kv">
              <dt>Email</dt>
              <dd data-testid="user-email">{user.email}</dd>
              <dt>Nickname</dt>
              <dd>{user.nickname}</dd>
              <dt>Roles</dt>
              <dd data-testid="user-roles">{user.roles.join(', ')}</dd>
              <dt>Registered</dt>
              <dd>{fmtTime(user.createdAt)}</dd>
              <dt>Invite code</dt>
              <dd>{user.inviteCode ?? '—'}</dd>
              <dt>Invited by</dt>
              <dd>{user.invitedBy ? <a href={href(`/users/${user.invitedBy}`)}>{user.invitedBy}</a> : '—'}</dd>
              <dt>Id</dt>
              <dd>
                <code>{user.id}</code>
              </dd>
            </dl>
          ) : userError ? (
            <ErrorBanner error={userError} />
          ) : !admin && id !== session.userId ? (
            <p class="muted">
              Profile and roles of other users are readable by ADMIN only, or after a lookup by email. Id <code>{id}</code>.
            </p>
          ) : (
            <Loading />
          )}
          {admin && user && <RolesEditor user={user} onSaved={setUser} />}
        </section>
        <section class="card" aria-labelledby="ud-progress">
          <h2 id="ud-progress">Progress</h2>
          <ErrorBanner error={progress.error} />
          {progress.data && (
            <>
              {progress.data.keys.length === 0 ? (
                <p class="muted">No activity recorded.</p>
              ) : (
                <table data-testid="progress-table">
                  <thead>
                    <tr>
                      <th scope="col">Key</th>
                      <th scope="col">Total</th>
                      <th scope="col">Highest</th>
                      <th scope="col">Records</th>
                    </tr>
                  </thead>
                  <tbody>
                    {progress.data.keys.map((k) => (
                      <tr key={k.key}>
                        <td>{k.key}</td>
                        <td>{k.total}</td>
                        <td>{k.max ?? '—'}</td>
                        <td>{k.count ?? '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              <p class="muted">
                Login days ({progress.data.loginDays.length}): {progress.data.loginDays.slice(-14).join(', ') || 'none'}
              </p>
            </>
          )}
        </section>
      </div>
      <section aria-labelledby="ud-claims">
        <div class="row between">
          <h2 id="ud-claims">Claims</h2>
          <a href={href(`/claims?userId=${encodeURIComponent(id)}`)}>Search all claims of this user</a>
        </div>
        <ErrorBanner error={claims.error} />
        {claims.data && claims.data.items.length === 0 && <Empty>No claims.</Empty>}
        {claims.data && claims.data.items.length > 0 && (
          <ClaimsTable claims={claims.data.items} columns={['requested', 'event', 'status', 'reason']} testId="user-claims" />
        )}
      </section>
    </>
  );
}

export function Users({ session, path, id }: { session: Session; path: string; id?: string }) {
  const q = queryOf(path);
  return (
    <section>
      <div class="page-head">
        <h1>{id ? 'User' : 'Users'}</h1>
      </div>
      <Lookup initial={id ?? q.get('q') ?? ''} />
      {id ? <UserDetail session={session} id={id} /> : isAdmin(session) ? <RoleList /> : (
        <p class="muted">Look a player up by id or email to see their progress and claims. Listing accounts needs the ADMIN role.</p>
      )}
    </section>
  );
}
