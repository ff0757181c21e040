import { useState } from 'preact/hooks';
import { ApiError, canWrite, del, get, post, qs, type Page, type Session } from '../api';
import { href, navigate } from '../router';
import { ctl, Empty, ErrorBanner, Field, fmtTime, Loading, Notice, parseIds, useAsync } from '../ui';
import { IdsInput } from '../IdsInput';

interface Segment {
  id: string;
  name: string;
  description?: string;
  memberCount?: number;
  createdAt?: string;
}

function CreateSegment() {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<unknown>(null);
  const fe = (f: string) => (error instanceof ApiError ? error.forField(f) : undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const s = await post<Segment>('/segments', { name, description });
      navigate(`/segments/${s.id}`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="card" onSubmit={submit} noValidate aria-labelledby="seg-new">
      <h2 id="seg-new">New segment</h2>
      <ErrorBanner error={error} />
      <div class="grid">
        <Field label="Name" name="name" error={fe('name')}>
          <input {...ctl('name', fe('name'))} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Description" name="description" error={fe('description')}>
          <input {...ctl('description', fe('description'))} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </Field>
      </div>
      <button type="submit" data-write>
        Create segment
      </button>
    </form>
  );
}

function SegmentDetail({ session, id }: { session: Session; id: string }) {
  const writable = canWrite(session);
  const seg = useAsync(() => get<Segment>(`/segments/${encodeURIComponent(id)}`), [id]);
  const [members, setMembers] = useState<string[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [mError, setMError] = useState<unknown>(null);
  const [ids, setIds] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const loadMembers = async (more: boolean) => {
    setMError(null);
    try {
      const page = await get<Page<any>>(`/segments/${encodeURIComponent(id)}/members` + qs({ limit: 100, cursor: more ? cursor : undefined }));
      const got = page.items.map((m) => (typeof m === 'string' ? m : m.userId ?? m.id));
      setMembers((prev) => (more && prev ? [...prev, ...got] : got));
      setCursor(page.nextCursor);
    } catch (e) {
      setMError(e);
    }
  };
  useAsync(() => loadMembers(false), [id]);

  const change = async (method: 'POST' | 'DELETE') => {
    const list = parseIds(ids);
    if (list.length === 0) return setError(new Error('Paste at least one user id or choose a file.'));
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const path = `/segments/${encodeURIComponent(id)}/members`;
      // The API takes at most 10,000 ids per call: send larger lists in chunks.
      for (let i = 0; i < list.length; i += 10_000) {
        const chunk = list.slice(i, i + 10_000);
        if (method === 'POST') await post(path, { userIds: chunk });
        else await del(path, { userIds: chunk });
      }
      setNotice(`${method === 'POST' ? 'Added' : 'Removed'} ${list.length} id${list.length === 1 ? '' : 's'}.`);
      setIds('');
      void loadMembers(false);
      seg.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fe = error instanceof ApiError ? error.forField('userIds') ?? error.fields.find((f) => f.field.startsWith('userIds'))?.message : undefined;

  return (
    <>
      <ErrorBanner error={seg.error} />
      {seg.data && (
        <dl class="kv card">
          <dt>Name</dt>
          <dd data-testid="segment-name">{seg.data.name}</dd>
          <dt>Description</dt>
          <dd>{seg.data.description || '—'}</dd>
          {seg.data.memberCount !== undefined && (
            <>
              <dt>Members</dt>
              <dd>{seg.data.memberCount}</dd>
            </>
          )}
          <dt>Id</dt>
          <dd>
            <code>{seg.data.id}</code>
          </dd>
        </dl>
      )}
      {writable && (
        <form class="card" onSubmit={(e) => (e.preventDefault(), void change('POST'))} aria-labelledby="seg-members">
          <h2 id="seg-members">Change members</h2>
          {error != null && <ErrorBanner error={error} />}
          {notice && <Notice kind="ok">{notice}</Notice>}
          <IdsInput name="userIds" label="User ids" value={ids} onChange={setIds} error={fe} />
          <div class="row">
            <button type="submit" data-write disabled={busy}>
              Add members
            </button>
            <button type="button" class="secondary" data-write disabled={busy} onClick={() => void change('DELETE')}>
              Remove these members
            </button>
          </div>
        </form>
      )}
      <h2>Members</h2>
      <ErrorBanner error={mError} />
      {members && members.length === 0 && <Empty>No members yet.</Empty>}
      {members && members.length > 0 && (
        <ul class="members" data-testid="members">
          {members.map((m) => (
            <li key={m}>
              <a href={href(`/users/${m}`)}>
                <code>{m}</code>
              </a>
            </li>
          ))}
        </ul>
      )}
      {cursor && (
        <button type="button" class="secondary" onClick={() => void loadMembers(true)}>
          Load more
        </button>
      )}
    </>
  );
}

export function Segments({ session, id }: { session: Session; id?: string }) {
  const list = useAsync(() => (id ? Promise.resolve(null) : get<Page<Segment>>('/segments' + qs({ limit: 100 }))), [id]);
  return (
    <section>
      <div class="page-head">
        <h1>{id ? 'Segment' : 'Segments'}</h1>
        {id && <a href={href('/segments')}>All segments</a>}
      </div>
      {id ? (
        <SegmentDetail session={session} id={id} />
      ) : (
        <>
          {canWrite(session) && <CreateSegment />}
          <ErrorBanner error={list.error} />
          {list.loading && <Loading />}
          {list.data && list.data.items.length === 0 && <Empty>No segments yet.</Empty>}
          {list.data && list.data.items.length > 0 && (
            <div class="table-wrap">
              <table class="cards" data-testid="segments-table">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Description</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.items.map((s) => (
                    <tr key={s.id}>
                      <td data-label="Name">
                        <a href={href(`/segments/${s.id}`)}>{s.name}</a>
                      </td>
                      <td data-label="Description">{s.description}</td>
                      <td data-label="Created">{fmtTime(s.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
