import { useState } from 'preact/hooks';
import { ApiError, endedReason, login, NoAccessError } from '../api';
import { ctl, ErrorBanner, Field } from '../ui';

export function SignIn() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [noAccess, setNoAccess] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setNoAccess(null);
    try {
      await login(email.trim(), password);
    } catch (err) {
      if (err instanceof NoAccessError) setNoAccess(err.message);
      else setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fe = (f: string) => (error instanceof ApiError ? error.forField(f) : undefined);

  return (
    <main id="main" class="signin">
      <form class="card" onSubmit={submit} aria-labelledby="signin-title" noValidate>
        <h1 id="signin-title">Live-ops console</h1>
        <p class="muted">Sign in with a staff account (OPERATOR, AUDITOR or ADMIN).</p>
        {endedReason && !error && !noAccess && (
          <div class="alert warn" role="status" data-testid="session-ended">
            {endedReason}
          </div>
        )}
        {noAccess && (
          <div class="alert error" role="alert" data-testid="no-access">
            <strong>No access.</strong> {noAccess}
          </div>
        )}
        {error instanceof ApiError && error.status === 401 ? (
          <div class="alert error" role="alert">
            <strong>Wrong email or password.</strong>
          </div>
        ) : error instanceof ApiError && error.status === 429 ? (
          <div class="alert error" role="alert">
            <strong>Too many attempts.</strong> Wait a moment and try again.
          </div>
        ) : (
          error && !(error instanceof ApiError && error.fields.length) && <ErrorBanner error={error} />
        )}
        <Field label="Email" name="email" error={fe('email')}>
          <input
            {...ctl('email', fe('email'))}
            type="email"
            autoComplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </Field>
        <Field label="Password" name="password" error={fe('password')}>
          <input
            {...ctl('password', fe('password'))}
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
