import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { account, activate, admin, ADMIN_EMAIL, ADMIN_PASSWORD, api, browser, claim, createEvent, go, signedIn } from './helpers.mjs';

describe('users', () => {
  let b, operator, player, ev;
  before(async () => {
    b = await browser();
    operator = await account('users-op', ['USER', 'OPERATOR']);
    player = await account('looked-up');
    ev = await activate(await admin(), await createEvent(await admin(), { title: 'users page event' }));
    await claim(player.token, ev.id);
  });
  after(async () => b && (await b.close()));

  test('ADMIN looks a user up by email and sees progress, claims and roles, then edits the roles', async () => {
    const page = await b.page();
    await signedIn(page, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    await go(page, '/users');
    await page.getByTestId('users-table').waitFor();
    await page.getByLabel('User id or email').fill(player.email.toUpperCase());
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByTestId('user-email').waitFor();
    assert.equal(await page.getByTestId('user-email').innerText(), player.email);
    assert.equal(await page.getByTestId('user-roles').innerText(), 'USER');
    await page.getByTestId('progress-table').or(page.getByText('No activity recorded.')).first().waitFor();
    await page.getByTestId('user-claims').getByRole('link', { name: ev.id }).waitFor();

    await page.getByLabel('AUDITOR').check();
    const resp = page.waitForResponse((r) => r.url().endsWith(`/users/${player.id}/roles`));
    await page.getByRole('button', { name: 'Save roles' }).click();
    assert.equal((await resp).status(), 200);
    await page.getByText(/Roles saved/).waitFor();
    assert.equal(await page.getByTestId('user-roles').innerText(), 'USER, AUDITOR');
    const me = await api('GET', `/users/${player.id}`, { token: await admin() });
    assert.deepEqual(me.data.roles.sort(), ['AUDITOR', 'USER']);
    b.assertClean();
  });

  test('ADMIN lists accounts by role', async () => {
    const page = await b.page();
    await signedIn(page, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    await go(page, '/users');
    await page.getByTestId('users-table').locator('tbody tr').first().waitFor();
    await page.getByLabel('Role').selectOption('OPERATOR');
    // The filtered answer replaces the unfiltered list (which may hold the operator too): wait
    // for it before looking, so the check below is about the filter, not about timing.
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('[data-testid="users-table"] tbody td[data-label="Roles"]')];
      return cells.length > 0 && cells.every((c) => c.textContent.includes('OPERATOR'));
    });
    // Oldest first, in pages: follow the cursor until this run's operator shows up.
    const link = page.getByTestId('users-table').getByRole('link', { name: operator.email });
    for (let i = 0; i < 100 && !(await link.count()); i++) {
      const more = page.getByRole('button', { name: 'Load more' });
      if (!(await more.count())) break;
      const rows = await page.getByTestId('users-table').locator('tbody tr').count();
      await more.click();
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="users-table"] tbody tr').length > n, rows);
    }
    await link.waitFor();
    const roles = await page.getByTestId('users-table').locator('tbody td[data-label="Roles"]').allInnerTexts();
    assert.ok(roles.every((r) => r.includes('OPERATOR')), 'only operators listed');
    b.assertClean();
  });

  test('an OPERATOR looks a player up by id: progress and claims, no role editing', async () => {
    const page = await b.page();
    await signedIn(page, operator);
    await go(page, '/users');
    await page.getByLabel('User id or email').fill(player.id);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByTestId('user-claims').getByRole('link', { name: ev.id }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save roles' }).count(), 0);
    assert.match(await page.locator('main').innerText(), /readable by ADMIN only/);
    b.assertClean();
  });

  test('an OPERATOR looks a player up by email: profile, roles, progress and claims', async () => {
    const page = await b.page();
    await signedIn(page, operator);
    await go(page, '/users');
    const lookup = page.getByLabel('User id or email');
    // Exact match on the normalised email: case and surrounding spaces do not matter.
    await lookup.fill(`  ${player.email.toUpperCase()} `);
    const resp = page.waitForResponse((r) => r.url().includes('/users?email='));
    await page.getByRole('button', { name: 'Look up' }).click();
    assert.equal((await resp).status(), 200);
    await page.getByTestId('user-email').waitFor();
    assert.equal(await page.getByTestId('user-email').innerText(), player.email);
    // The roles as they are now (an earlier test may have changed them).
    const now = await api('GET', `/users/${player.id}`, { token: await admin() });
    assert.equal(await page.getByTestId('user-roles').innerText(), now.data.roles.join(', '));
    assert.ok(page.url().endsWith(`/users/${player.id}`), page.url());
    await page.getByTestId('user-claims').getByRole('link', { name: ev.id }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save roles' }).count(), 0);
    // No such user: said so; a malformed email: the server's 400 next to the field.
    await page.getByLabel('User id or email').fill(`nobody-${Date.now()}@example.com`);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByText(/No user with email/).waitFor();
    await page.getByLabel('User id or email').fill('a@b');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.locator('[data-error-for="lookup"]').waitFor();
    assert.equal(await page.getByLabel('User id or email').getAttribute('aria-invalid'), 'true');
    b.assertClean();
  });
});
