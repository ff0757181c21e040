import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { account, admin, api, browser, CONSOLE_URL, go, signedIn, signIn } from './helpers.mjs';

describe('sign-in', () => {
  let b, player, operator;
  before(async () => {
    b = await browser();
    player = await account('player', ['USER']);
    operator = await account('signin-op', ['USER', 'OPERATOR']);
  });
  after(async () => b && (await b.close()));

  test('a USER is told they have no access and stays signed out', async () => {
    const page = await b.page();
    await signIn(page, player.email, player.password);
    const alert = page.getByTestId('no-access');
    await alert.waitFor();
    assert.match(await alert.innerText(), /no staff role/i);
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    assert.equal(await page.evaluate(() => localStorage.getItem('liveops.console.session')), null);
    b.assertClean();
  });

  test('a wrong password is refused with a message', async () => {
    const page = await b.page();
    await signIn(page, operator.email, 'not-the-password');
    await page.getByText('Wrong email or password.').waitFor();
    b.assertClean();
  });

  test('a staff member signs in, and signing out revokes the session on the server', async () => {
    const page = await b.page();
    await signedIn(page, operator);
    assert.equal(await page.getByTestId('role').innerText(), 'OPERATOR');
    const token = await page.evaluate(() => JSON.parse(localStorage.getItem('liveops.console.session')).accessToken);
    assert.equal((await api('GET', '/auth/me', { token })).status, 200);
    const logout = page.waitForRequest((r) => r.url().endsWith('/auth/logout') && r.method() === 'POST');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await logout;
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    // Revocation is asynchronous across services only in propagation; poll briefly.
    let status = 200;
    for (let i = 0; i < 20 && status === 200; i++) {
      status = (await api('GET', '/auth/me', { token })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 401);
    b.assertClean();
  });

  test('an expired access token is refreshed with the refresh token on 401', async () => {
    const page = await b.page();
    await signedIn(page, operator);
    // Break the access token: the next call answers 401 and the console must refresh and retry.
    const before = await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('liveops.console.session'));
      return s.refreshToken;
    });
    await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('liveops.console.session'));
      s.accessToken = s.accessToken.slice(0, -4) + 'AAAA';
      localStorage.setItem('liveops.console.session', JSON.stringify(s));
    });
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/auth/refresh') && r.status() === 200);
    await page.goto(CONSOLE_URL + '#/claims');
    await page.reload();
    await page.getByRole('button', { name: 'Search' }).click();
    await refreshed;
    await page.getByTestId('claims-count').or(page.getByText('No claim matches.')).waitFor();
    const after = await page.evaluate(() => JSON.parse(localStorage.getItem('liveops.console.session')).refreshToken);
    assert.notEqual(after, before, 'refresh token rotated');
    b.assertClean();
  });

  test('a role change revokes the session: the console returns to sign-in and says why', async () => {
    const victim = await account('revoked-op', ['USER', 'OPERATOR']);
    const page = await b.page();
    await signedIn(page, victim);
    const r = await api('PATCH', `/users/${victim.id}/roles`, { token: await admin(), body: { roles: ['USER', 'AUDITOR'] } });
    assert.equal(r.status, 200);
    // The next API call fails with 401, the refresh is refused, and the user is told.
    for (let i = 0; i < 20; i++) {
      await go(page, i % 2 ? '/claims' : '/events').catch(() => undefined);
      if (await page.getByTestId('session-ended').count()) break;
      await page.waitForTimeout(250);
    }
    await page.getByTestId('session-ended').waitFor();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    b.assertClean();
  });

  test('two tabs share one session; refreshing in both at once does not trip reuse detection', async () => {
    const a = await b.page();
    await signedIn(a, operator);
    const tabB = await b.tab(a);
    await tabB.goto(CONSOLE_URL + '#/claims');
    await tabB.getByRole('button', { name: 'Sign out' }).waitFor();
    // Make the access token look 20 s from expiry: both tabs schedule their refresh for the same moment.
    const first = await a.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('liveops.console.session'));
      s.expiresAt = Date.now() + 20_000;
      localStorage.setItem('liveops.console.session', JSON.stringify(s));
      return s.refreshToken;
    });
    await a.reload();
    const key = 'liveops.console.session';
    await a.waitForFunction(([k, t]) => JSON.parse(localStorage.getItem(k) ?? '{}').refreshToken !== t, [key, first], { timeout: 20_000 });
    await a.waitForTimeout(1500);
    const tokens = await Promise.all([a, tabB].map((p) => p.evaluate((k) => JSON.parse(localStorage.getItem(k) ?? 'null'), key)));
    assert.ok(tokens[0] && tokens[1], 'both tabs still signed in');
    assert.equal(tokens[0].refreshToken, tokens[1].refreshToken);
    // The family was not revoked: the current access token works and the refresh token refreshes.
    assert.equal((await api('GET', '/auth/me', { token: tokens[0].accessToken })).status, 200);
    assert.equal(await tabB.getByRole('button', { name: 'Sign out' }).count(), 1);
    // Signing out in one tab signs the other out too.
    await tabB.getByRole('button', { name: 'Sign out' }).click();
    await a.getByRole('button', { name: 'Sign in' }).waitFor();
    b.assertClean();
  });
});
