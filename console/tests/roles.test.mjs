import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { account, activate, admin, browser, createEvent, go, signedIn } from './helpers.mjs';

// Every page, plus the detail pages an auditor can open, with the selector of something that
// shows the page rendered its main content (not just the heading).
const PAGES = (ev) => [
  ['/events', '[data-testid="events-table"]'],
  [`/events/${ev.id}`, 'form.editor'],
  [`/events/${ev.id}/live`, '[data-testid="live-source"]'],
  [`/claims?eventId=${ev.id}`, 'form.filters'],
  ['/users', 'form.filters'],
  ['/segments', 'main h1'],
  ['/grants', 'main h1'],
  ['/audit', 'form.filters'],
];

describe('roles', () => {
  let b, auditor, operator, ev;
  before(async () => {
    b = await browser();
    auditor = await account('auditor', ['USER', 'AUDITOR']);
    operator = await account('roles-op', ['USER', 'OPERATOR']);
    ev = await activate(await admin(), await createEvent(await admin(), { title: 'roles check event', maxClaims: 10 }));
  });
  after(async () => b && (await b.close()));

  test('an AUDITOR sees every page with no write control on it', async () => {
    const page = await b.page();
    await signedIn(page, auditor);
    assert.match(await page.getByTestId('role').innerText(), /AUDITOR/);
    for (const [path, ready] of PAGES(ev)) {
      await go(page, path);
      await page.locator(ready).first().waitFor();
      await page.waitForLoadState('networkidle');
      assert.equal(await page.locator('[data-write]').count(), 0, `write control on ${path}`);
      for (const name of ['New event', 'Create draft', 'Save changes', 'Activate…', 'Pause', 'Archive', 'Revoke', 'Save roles', 'Create segment', 'Add members', 'Start grant job']) {
        assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `"${name}" on ${path}`);
      }
    }
    // The editor's inputs are there to read, not to edit.
    await go(page, `/events/${ev.id}`);
    await page.getByLabel('Title').waitFor();
    assert.equal(await page.getByLabel('Title').isDisabled(), true);
    assert.equal(await page.getByLabel('Title').inputValue(), 'roles check event');
    b.assertClean();
  });

  test('an OPERATOR gets the write controls', async () => {
    const page = await b.page();
    await signedIn(page, operator);
    await page.getByRole('link', { name: 'New event' }).waitFor();
    await go(page, `/events/${ev.id}`);
    await page.getByRole('button', { name: 'Save changes' }).waitFor();
    assert.equal(await page.getByLabel('Title').isDisabled(), false);
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    b.assertClean();
  });
});
